//! Generated mentions for the demo and the benchmarks.
//!
//! Zeltron (ours), Kvantix and Noventa (competitors) are FICTIONAL brands: a home internet and
//! mobile provider and two rivals. The sentences are written for Earshot; any resemblance to a
//! real company is accidental. Output is deterministic for a given seed.

use chrono::{DateTime, Duration, Utc};
use earshot_core::{Author, InterchangeMention};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub const FICTION_NOTICE: &str =
    "Demo data: Zeltron, Kvantix and Noventa are fictional brands; every mention is generated.";

/// `{b}` is our brand in the case the sentence needs, `{c}` a competitor.
struct Lang {
    code: &'static str,
    ours: &'static [&'static str],
    rivals: &'static [&'static [&'static str]],
    sentences: &'static [&'static str],
    filler: &'static [&'static str],
    names: &'static [&'static str],
}

const EN: Lang = Lang {
    code: "en",
    ours: &["Zeltron", "Zeltron", "ZELTRON", "@zeltron", "#Zeltron"],
    rivals: &[&["Kvantix", "#Kvantix"], &["Noventa", "@noventa"]],
    sentences: &[
        "{b} dropped my calls again this morning, third time this week. Anyone else?",
        "Switched from {c} to {b} last month and honestly the speed is great.",
        "How do I change my {b} tariff without visiting a shop?",
        "{b} support answered in five minutes and fixed my router remotely. Impressed!",
        "My {b} bill doubled and nobody can explain why. Really disappointed.",
        "Thinking about getting {b} home internet, is it worth it compared to {c}?",
        "It would be great if {b} added an eSIM option to the app.",
        "The {b} app crashes every time I open the payments screen.",
        "{c} is cheaper but {b} coverage in the countryside is much better.",
        "Love the new {b} family plan, saved us a lot.",
        "Is {b} down right now? No internet in the whole building.",
        "Want to buy the {b} fibre plan, where can I order it online?",
        "{b} vs {c}: which one has better customer service?",
        "Waited two hours on the {b} hotline, still no answer.",
        "Thanks {b} for the quick installation today!",
    ],
    filler: &[
        "today",
        "again",
        "really",
        "city",
        "network",
        "speed",
        "router",
        "price",
        "month",
        "friends",
        "office",
        "weekend",
        "streaming",
        "games",
        "upload",
        "contract",
        "offer",
        "signal",
        "tower",
        "outage",
        "update",
        "account",
        "family",
        "student",
        "roaming",
        "data",
        "plan",
        "shop",
        "delivery",
        "installer",
        "modem",
        "wifi",
        "fiber",
        "coverage",
        "village",
        "downtown",
        "evening",
        "morning",
        "support",
        "chat",
        "email",
        "discount",
    ],
    names: &[
        "alex_k",
        "maria.writes",
        "tom_b",
        "jen",
        "dev_ops_dan",
        "sara",
        "mike77",
        "linda_m",
    ],
};

const RU: Lang = Lang {
    code: "ru",
    ours: &[
        "Зелтрон",
        "Зелтрона",
        "Зелтроном",
        "Зелтрону",
        "ЗЕЛТРОН",
        "#Зелтрон",
    ],
    rivals: &[
        &["Квантикс", "Квантиксом"],
        &["Новента", "Новенту", "Новентой"],
    ],
    sentences: &[
        "{b} опять пропал интернет, уже третий раз за неделю. У кого ещё так?",
        "Перешёл с {c} и очень доволен, скорость отличная, спасибо {b}!",
        "Как поменять тариф у {b} без похода в офис?",
        "Поддержка {b} ответила за пять минут и всё починила. Приятно удивлён.",
        "Счёт от {b} вырос вдвое, и никто не может объяснить почему.",
        "Думаю подключить {b}, стоит ли оно того по сравнению с {c}?",
        "Было бы здорово, если бы {b} добавил eSIM в приложение.",
        "Приложение {b} вылетает каждый раз на экране оплаты.",
        "{c} дешевле, но покрытие у {b} за городом намного лучше.",
        "Хочу купить оптоволокно от {b}, где оформить заказ онлайн?",
        "Два часа жду ответа на горячей линии {b}, бесполезно.",
        "Спасибо {b} за быструю установку сегодня!",
        "У {b} сегодня авария? Нет связи во всём доме.",
    ],
    filler: &[
        "сегодня",
        "опять",
        "город",
        "сеть",
        "скорость",
        "роутер",
        "цена",
        "месяц",
        "друзья",
        "офис",
        "выходные",
        "игры",
        "договор",
        "предложение",
        "сигнал",
        "вышка",
        "авария",
        "обновление",
        "аккаунт",
        "семья",
        "студент",
        "роуминг",
        "тариф",
        "магазин",
        "доставка",
        "мастер",
        "модем",
        "покрытие",
        "деревня",
        "вечером",
        "утром",
        "поддержка",
        "чат",
        "скидка",
        "оплата",
        "приложение",
        "связь",
        "звонки",
        "сообщения",
        "абонент",
    ],
    names: &[
        "ivan_p",
        "olga.s",
        "dmitry",
        "natasha_k",
        "sergey77",
        "anya",
        "maxim_v",
        "elena",
    ],
};

const EL: Lang = Lang {
    code: "el",
    ours: &["Ζέλτρον", "ΖΕΛΤΡΟΝ", "Ζελτρον", "#Ζέλτρον"],
    rivals: &[&["Κβάντιξ", "ΚΒΑΝΤΙΞ"], &["Νοβέντα", "Νοβέντας"]],
    sentences: &[
        "Η {b} έκοψε πάλι το ίντερνετ σήμερα, τρίτη φορά αυτή την εβδομάδα.",
        "Άλλαξα από {c} σε {b} και η ταχύτητα είναι εξαιρετική.",
        "Πώς αλλάζω πρόγραμμα στη {b} χωρίς να πάω στο κατάστημα;",
        "Η υποστήριξη της {b} απάντησε σε πέντε λεπτά, μπράβο!",
        "Ο λογαριασμός της {b} διπλασιάστηκε και κανείς δεν εξηγεί γιατί.",
        "Σκέφτομαι να πάρω {b}, αξίζει σε σύγκριση με {c};",
        "Θα ήταν ωραίο αν η {b} πρόσθετε eSIM στην εφαρμογή.",
        "Η εφαρμογή της {b} κολλάει κάθε φορά στην πληρωμή.",
        "Η {c} είναι φθηνότερη αλλά η κάλυψη της {b} είναι καλύτερη.",
        "Ευχαριστώ {b} για τη γρήγορη εγκατάσταση σήμερα!",
        "Θέλω να αγοράσω οπτική ίνα από {b}, πού γίνεται η παραγγελία;",
    ],
    filler: &[
        "σήμερα",
        "πάλι",
        "πόλη",
        "δίκτυο",
        "ταχύτητα",
        "ρούτερ",
        "τιμή",
        "μήνα",
        "φίλοι",
        "γραφείο",
        "σαββατοκύριακο",
        "παιχνίδια",
        "συμβόλαιο",
        "προσφορά",
        "σήμα",
        "βλάβη",
        "ενημέρωση",
        "λογαριασμός",
        "οικογένεια",
        "φοιτητής",
        "περιαγωγή",
        "πρόγραμμα",
        "κατάστημα",
        "τεχνικός",
        "κάλυψη",
        "χωριό",
        "βράδυ",
        "πρωί",
        "υποστήριξη",
        "έκπτωση",
    ],
    names: &[
        "giorgos_p",
        "maria.k",
        "nikos",
        "eleni_t",
        "kostas88",
        "sofia",
        "dimitris_a",
    ],
};

const LANGS: [&Lang; 3] = [&RU, &EL, &EN];

pub struct Generator {
    rng: StdRng,
    next_id: u64,
    start: DateTime<Utc>,
    step: Duration,
    /// Extra random words per mention, to reach a target length and keep texts distinct.
    filler_words: std::ops::RangeInclusive<usize>,
}

/// Demo/benchmark sources and what their items look like.
const SOURCES: [&str; 4] = ["mastodon-demo", "bluesky-demo", "blog-comments", "forum"];

impl Generator {
    pub fn new(
        seed: u64,
        start: DateTime<Utc>,
        step: Duration,
        filler_words: std::ops::RangeInclusive<usize>,
    ) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
            start,
            step,
            filler_words,
        }
    }

    pub fn next_mention(&mut self) -> InterchangeMention {
        let id = self.next_id;
        self.next_id += 1;
        let lang = LANGS[self.rng.gen_range(0..LANGS.len())];
        let sentence = lang.sentences.choose(&mut self.rng).expect("sentences");
        let ours = lang.ours.choose(&mut self.rng).expect("brand forms");
        let rival = lang.rivals.choose(&mut self.rng).expect("rivals");
        let rival = rival.choose(&mut self.rng).expect("rival forms");
        let mut text = sentence.replace("{b}", ours).replace("{c}", rival);
        let extra = self.rng.gen_range(self.filler_words.clone());
        for _ in 0..extra {
            text.push(' ');
            text.push_str(lang.filler.choose(&mut self.rng).expect("filler"));
        }
        let source = SOURCES[self.rng.gen_range(0..SOURCES.len())];
        let name = lang.names.choose(&mut self.rng).expect("names");
        let handle = format!("{name}{}", self.rng.gen_range(1..500));
        let published_at = self.start + self.step * (id as i32);
        let host = match source {
            "mastodon-demo" => "social.example",
            "bluesky-demo" => "bsky.example",
            "blog-comments" => "blog.example",
            _ => "forum.example",
        };
        // Drawn in this order so a seed keeps giving the corpus the benchmarks were measured on.
        let followers = self.rng.gen_range(0..20_000);
        let declared_lang = self.rng.gen_bool(0.5).then(|| lang.code.to_string());
        InterchangeMention {
            source: Some(source.to_string()),
            external_id: Some(format!("{source}-{id}")),
            url: Some(format!("https://{host}/{handle}/{id}?utm_source=demo")),
            text: Some(text),
            published_at: Some(published_at.to_rfc3339()),
            author: Some(Author {
                handle: Some(format!("@{handle}")),
                name: Some(name.replace(['_', '.'], " ")),
                url: Some(format!("https://{host}/{handle}")),
                followers: Some(followers),
            }),
            // Half the networks declare a language; the rest leave it to Earshot to identify.
            lang: declared_lang,
            title: None,
            in_reply_to: None,
            ..InterchangeMention::default()
        }
    }

    /// A repost of an earlier mention: the same text behind an "RT" prefix, another author.
    pub fn repost_of(&mut self, original: &InterchangeMention) -> InterchangeMention {
        let mut copy = self.next_mention();
        copy.text = original.text.as_ref().map(|t| format!("RT {t}"));
        copy.lang = original.lang.clone();
        copy
    }
}

/// The brands the generated mentions are about, as `earshot.toml` entries.
pub fn demo_brands() -> Vec<earshot_core::BrandConfig> {
    vec![
        earshot_core::BrandConfig {
            name: "Zeltron".into(),
            queries: vec!["Zeltron OR Зелтрон OR Ζέλτρον".into()],
            competitor: false,
        },
        earshot_core::BrandConfig {
            name: "Kvantix".into(),
            queries: vec!["Kvantix OR Квантикс OR Κβάντιξ".into()],
            competitor: true,
        },
        earshot_core::BrandConfig {
            name: "Noventa".into(),
            queries: vec!["Noventa OR Новента OR Νοβέντα".into()],
            competitor: true,
        },
    ]
}
