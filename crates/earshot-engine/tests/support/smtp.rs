//! A small SMTP server for tests, written here: enough of RFC 5321 for lettre to deliver.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the SMTP server below received in one session.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub commands: Vec<String>,
    pub data: String,
}

/// Enough SMTP (RFC 5321) to take a message: greeting, EHLO with AUTH PLAIN, MAIL, RCPT,
/// DATA up to the lone dot, QUIT. `rcpt_reply` is what RCPT TO gets.
pub async fn smtp_server(rcpt_reply: &'static str) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let record = sessions.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut received = Received::default();
                write
                    .write_all(b"220 mail.test ESMTP ready\r\n")
                    .await
                    .unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    received.commands.push(line.clone());
                    let answer: &str = if upper.starts_with("EHLO") {
                        "250-mail.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH PLAIN") {
                        "235 2.7.0 Authentication successful\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        "250 2.1.0 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        rcpt_reply
                    } else if upper == "DATA" {
                        write
                            .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                            .await
                            .unwrap();
                        while let Ok(Some(data_line)) = lines.next_line().await {
                            if data_line == "." {
                                break;
                            }
                            received.data.push_str(&data_line);
                            received.data.push('\n');
                        }
                        "250 2.0.0 Ok: queued as 7F3A\r\n"
                    } else if upper == "QUIT" {
                        write.write_all(b"221 2.0.0 Bye\r\n").await.unwrap();
                        break;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        "250 OK\r\n"
                    } else {
                        "502 5.5.2 Command not recognized\r\n"
                    };
                    write.write_all(answer.as_bytes()).await.unwrap();
                }
                record.lock().unwrap().push(received);
            });
        }
    });
    (port, sessions)
}
