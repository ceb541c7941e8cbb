//! Behaviour tests of [`crate::InboxStore`], run against any [`Store`]; see [`run_all`].
