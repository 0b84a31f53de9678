//! Outgoing mail: the messages Gatehouse sends to people (password reset, email verification,
//! partner notices), rendered as multipart text + HTML in the recipient's language (en, de) and
//! sent over SMTP with `lettre`, or, in dev mode without SMTP, written as `.eml` files.
//!
//! Settings: `GATEHOUSE_SMTP_URL` (`smtp://host:25`, `smtps://user:pass@host:465`,
//! `smtp://user:pass@host:587?tls=required`; lettre's URL grammar, `tls=opportunistic` too) and
//! `GATEHOUSE_MAIL_FROM` (`Name <address>` or an address). Nothing here logs a message's body:
//! links in it are bearer credentials.
//!
//! Every message has one shape (a [`Letter`]: greeting, paragraphs, an optional quote, one action
//! link, notes), so one pair of templates renders them all; the words come from
//! `locales/<language>.toml`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use askama::Template;
use gatehouse_core::secret::SecretString;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The languages mails are written in; the first is the fallback.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", include_str!("../locales/en.toml")),
    ("de", include_str!("../locales/de.toml")),
];

/// How mail leaves this process.
#[derive(Clone)]
pub struct MailSettings {
    /// `GATEHOUSE_SMTP_URL`: it may carry a password, hence secret.
    pub smtp_url: Option<SecretString>,
    /// `GATEHOUSE_MAIL_FROM`.
    pub from: Option<String>,
    /// Dev mode without SMTP: the directory `.eml` files are written to (`data/mail/`).
    pub dev_dir: Option<PathBuf>,
    pub brand: Brand,
}

/// What makes a mail look like the deployment's login pages.
#[derive(Debug, Clone)]
pub struct Brand {
    /// `GATEHOUSE_UI_PRODUCT_NAME`.
    pub product: String,
    /// The primary colour (`#rrggbb`) and the text colour on it (chosen for contrast).
    pub color: String,
    pub text_color: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("GATEHOUSE_SMTP_URL is not a usable SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("GATEHOUSE_MAIL_FROM is required with GATEHOUSE_SMTP_URL")]
    MissingFrom,
    #[error("GATEHOUSE_MAIL_FROM {0:?} is not a mailbox (\"Name <address>\" or an address)")]
    BadFrom(String),
    #[error("cannot create the mail directory {0}: {1}")]
    Directory(PathBuf, String),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0:?} is not an address mail can be sent to")]
    BadRecipient(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the mail server did not take the message: {0}")]
    Smtp(String),
    #[error("the message could not be written to the mail directory: {0}")]
    File(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

/// Sends [`Letter`]s. Cheap to share behind an `Arc`; the SMTP transport pools connections.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    brand: Brand,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.describe())
            .finish_non_exhaustive()
    }
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Accepted by the SMTP server.
    Smtp,
    /// Written to this `.eml` file (dev mode).
    File(PathBuf),
}

/// Without SMTP, in dev mode, this sender is used when `GATEHOUSE_MAIL_FROM` is not set.
const DEV_FROM: &str = "Gatehouse <noreply@gatehouse.localhost>";

impl MailSettings {
    /// Checks the settings without building anything (no connection, no directory, no task):
    /// what configuration validation calls, outside any runtime.
    pub fn check(&self) -> Result<(), MailSetupError> {
        if let Some(url) = &self.smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .map_err(|e| MailSetupError::SmtpUrl(e.to_string()))?;
            sender(self.from.as_deref(), None)?;
        } else if self.dev_dir.is_some() {
            sender(self.from.as_deref(), Some(DEV_FROM))?;
        }
        Ok(())
    }
}

/// The sender mailbox: `from` when set, else `fallback`.
fn sender(from: Option<&str>, fallback: Option<&str>) -> Result<Mailbox, MailSetupError> {
    let raw = from
        .filter(|s| !s.trim().is_empty())
        .or(fallback)
        .ok_or(MailSetupError::MissingFrom)?;
    raw.trim()
        .parse::<Mailbox>()
        .map_err(|_| MailSetupError::BadFrom(raw.to_owned()))
}

impl Mailer {
    /// The mailer these settings describe: SMTP when a URL is set, else the dev directory when
    /// one is given, else none (features that need mail are off).
    ///
    /// Call it inside a Tokio runtime: the SMTP transport's connection pool runs as a task.
    pub fn from_settings(settings: &MailSettings) -> Result<Option<Self>, MailSetupError> {
        let from = |fallback: Option<&str>| sender(settings.from.as_deref(), fallback);
        let transport = match (&settings.smtp_url, &settings.dev_dir) {
            (Some(url), _) => {
                let from = from(None)?;
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // lettre's error names the part of the URL at fault, never the password.
                    .map_err(|e| MailSetupError::SmtpUrl(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                return Ok(Some(Self {
                    transport: Transport::Smtp(transport),
                    from,
                    brand: settings.brand.clone(),
                }));
            }
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| MailSetupError::Directory(dir.clone(), e.to_string()))?;
                Transport::Directory {
                    transport: AsyncFileTransport::new(dir),
                    dir: dir.clone(),
                }
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(Self {
            transport,
            from: from(Some(DEV_FROM))?,
            brand: settings.brand.clone(),
        }))
    }

    /// For the start-up log: `SMTP` or the directory, never the URL (it may hold a password).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".to_owned(),
            Transport::Directory { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    /// Renders `letter` in its language and sends it to `to` (an address, or `Name <address>`).
    pub async fn send(&self, to: &str, letter: &Letter) -> Result<Delivered, MailError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| MailError::BadRecipient(to.to_owned()))?;
        let rendered = letter.render(&self.brand);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| Delivered::Smtp)
                .map_err(|e| MailError::Smtp(e.to_string())),
            Transport::Directory { transport, dir } => {
                let id = transport
                    .send(message)
                    .await
                    .map_err(|e| MailError::File(e.to_string()))?;
                Ok(Delivered::File(eml_path(dir, &id)))
            }
        }
    }
}

/// lettre's file transport names each file `<id>.eml` in its directory.
fn eml_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.eml"))
}

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Letter {
    /// A language tag (`de`, `de-AT`, `en`); anything unknown is English.
    pub language: String,
    /// Whom the greeting names (the user's name, else the username).
    pub greeting_name: String,
    pub kind: LetterKind,
}

/// What a letter says. Each carries the one link it exists for.
#[derive(Debug, Clone)]
pub enum LetterKind {
    PasswordReset {
        username: String,
        link: String,
        valid_for: Duration,
    },
    EmailVerification {
        username: String,
        email: String,
        link: String,
        valid_for: Duration,
    },
    /// An operator decided on a partner's app request; `reason` is the operator's words, for a
    /// rejection or a request for changes.
    PartnerDecision {
        app: String,
        outcome: PartnerOutcome,
        reason: Option<String>,
        link: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerOutcome {
    Approved,
    ChangesRequested,
    Rejected,
}

/// A letter in words, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "letter.txt")]
struct TextLetter<'a> {
    body: &'a Body,
}

#[derive(Template)]
#[template(path = "letter.html")]
struct HtmlLetter<'a> {
    body: &'a Body,
    brand_color: &'a str,
    brand_text_color: &'a str,
}

/// The parts both templates lay out.
struct Body {
    language: &'static str,
    product: String,
    subject: String,
    heading: String,
    greeting: String,
    paragraphs: Vec<String>,
    quote: Option<String>,
    action_label: String,
    action_link: String,
    link_hint: String,
    notes: Vec<String>,
    footer: String,
}

// The templates name the body's fields directly.
impl std::ops::Deref for TextLetter<'_> {
    type Target = Body;
    fn deref(&self) -> &Body {
        self.body
    }
}

impl std::ops::Deref for HtmlLetter<'_> {
    type Target = Body;
    fn deref(&self) -> &Body {
        self.body
    }
}

impl Letter {
    /// The subject, text and HTML of this letter.
    pub fn render(&self, brand: &Brand) -> Rendered {
        let words = Words::for_language(&self.language);
        let product = brand.product.as_str();
        let fill = |key: &str, args: &[(&str, &str)]| words.fill(key, args);
        let (subject, heading, paragraphs, quote, action_label, link, notes) = match &self.kind {
            LetterKind::PasswordReset {
                username,
                link,
                valid_for,
            } => (
                fill("password_reset.subject", &[("product", product)]),
                fill("password_reset.heading", &[]),
                vec![fill("password_reset.intro", &[("username", username)])],
                None,
                fill("password_reset.action", &[]),
                link,
                vec![
                    fill(
                        "password_reset.expiry",
                        &[("minutes", &whole_minutes(*valid_for).to_string())],
                    ),
                    fill("password_reset.ignore", &[]),
                ],
            ),
            LetterKind::EmailVerification {
                username,
                email,
                link,
                valid_for,
            } => (
                fill("email_verification.subject", &[("product", product)]),
                fill("email_verification.heading", &[]),
                vec![fill(
                    "email_verification.intro",
                    &[("email", email), ("username", username)],
                )],
                None,
                fill("email_verification.action", &[]),
                link,
                vec![
                    fill(
                        "email_verification.expiry",
                        &[("hours", &whole_hours(*valid_for).to_string())],
                    ),
                    fill("email_verification.ignore", &[]),
                ],
            ),
            LetterKind::PartnerDecision {
                app,
                outcome,
                reason,
                link,
            } => {
                let prefix = match outcome {
                    PartnerOutcome::Approved => "approved",
                    PartnerOutcome::ChangesRequested => "changes",
                    PartnerOutcome::Rejected => "rejected",
                };
                let key = |part: &str| format!("partner_decision.{prefix}_{part}");
                (
                    fill(&key("subject"), &[("app", app)]),
                    fill(&key("heading"), &[]),
                    vec![fill(&key("intro"), &[("app", app)])],
                    reason
                        .clone()
                        .filter(|_| *outcome != PartnerOutcome::Approved),
                    fill("partner_decision.action", &[]),
                    link,
                    Vec::new(),
                )
            }
        };
        let body = Body {
            language: words.language,
            product: product.to_owned(),
            subject,
            heading,
            greeting: fill("common.greeting", &[("name", &self.greeting_name)]),
            paragraphs,
            quote,
            action_label,
            action_link: link.clone(),
            link_hint: fill("common.link_hint", &[]),
            notes,
            footer: fill("common.footer", &[("product", product)]),
        };
        // Rendering these templates cannot fail: every field is a string or a list of them.
        let text = TextLetter { body: &body }.render().unwrap_or_default();
        let html = HtmlLetter {
            body: &body,
            brand_color: &brand.color,
            brand_text_color: &brand.text_color,
        }
        .render()
        .unwrap_or_default();
        Rendered {
            subject: body.subject,
            text,
            html,
        }
    }
}

fn whole_minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

fn whole_hours(d: Duration) -> u64 {
    d.as_secs().div_ceil(3600).max(1)
}

/// The strings of one language, with English behind them.
struct Words {
    language: &'static str,
    strings: &'static HashMap<String, String>,
    fallback: &'static HashMap<String, String>,
}

type Catalogue = HashMap<String, String>;

fn catalogues() -> &'static Vec<(&'static str, Catalogue)> {
    static PARSED: OnceLock<Vec<(&'static str, Catalogue)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        LANGUAGES
            .iter()
            .map(|(tag, source)| (*tag, parse_catalogue(source).unwrap_or_default()))
            .collect()
    })
}

/// A locale file: tables of strings, `[section]` + `key = "…"` read as `section.key`.
fn parse_catalogue(source: &str) -> Result<Catalogue, String> {
    let sections: HashMap<String, HashMap<String, String>> =
        toml::from_str(source).map_err(|e| e.to_string())?;
    Ok(sections
        .into_iter()
        .flat_map(|(section, strings)| {
            strings
                .into_iter()
                .map(move |(key, value)| (format!("{section}.{key}"), value))
        })
        .collect())
}

static EMPTY: OnceLock<Catalogue> = OnceLock::new();

impl Words {
    fn for_language(tag: &str) -> Self {
        let all = catalogues();
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let empty = EMPTY.get_or_init(Catalogue::new);
        let fallback = all.first().map_or(empty, |(_, c)| c);
        match all.iter().find(|(t, _)| *t == primary) {
            Some((t, strings)) => Self {
                language: t,
                strings,
                fallback,
            },
            None => Self {
                language: LANGUAGES[0].0,
                strings: fallback,
                fallback,
            },
        }
    }

    /// The string under `key` with each `{name}` replaced by its value.
    fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let template = self
            .strings
            .get(key)
            .or_else(|| self.fallback.get(key))
            .map_or(key, String::as_str);
        let mut out = template.to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn brand() -> Brand {
        Brand {
            product: "Neon".into(),
            color: "#1f5fbf".into(),
            text_color: "#ffffff".into(),
        }
    }

    fn reset(language: &str) -> Letter {
        Letter {
            language: language.into(),
            greeting_name: "Alice <Admin>".into(),
            kind: LetterKind::PasswordReset {
                username: "alice".into(),
                link: "https://id.example.com/ui/reset-password?token=abc&x=1".into(),
                valid_for: Duration::from_secs(30 * 60),
            },
        }
    }

    #[test]
    fn every_language_has_exactly_the_english_keys() {
        let english = parse_catalogue(LANGUAGES[0].1).unwrap();
        for (tag, source) in LANGUAGES {
            let strings = parse_catalogue(source).unwrap();
            let mut missing: Vec<_> = english
                .keys()
                .filter(|k| !strings.contains_key(*k))
                .collect();
            let mut extra: Vec<_> = strings
                .keys()
                .filter(|k| !english.contains_key(*k))
                .collect();
            missing.sort();
            extra.sort();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{tag}: missing {missing:?}, extra {extra:?}"
            );
        }
    }

    #[test]
    fn a_reset_letter_carries_its_link_in_both_parts_and_escapes_html() {
        let rendered = reset("en").render(&brand());
        assert_eq!(rendered.subject, "Reset your Neon password");
        assert!(
            rendered.text.starts_with("Hello Alice <Admin>,\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .contains("https://id.example.com/ui/reset-password?token=abc&x=1")
        );
        assert!(rendered.text.contains("within 30 minutes"));
        assert!(
            rendered.html.contains("Hello Alice &#60;Admin&#62;,")
                || rendered.html.contains("Hello Alice &lt;Admin&gt;,"),
            "{}",
            rendered.html
        );
        assert!(
            rendered
                .html
                .contains("href=\"https://id.example.com/ui/reset-password?token=abc&#38;x=1\"")
                || rendered.html.contains(
                    "href=\"https://id.example.com/ui/reset-password?token=abc&amp;x=1\""
                ),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("<html lang=\"en\">"));
        assert!(rendered.html.contains("background:#1f5fbf"));
    }

    #[test]
    fn german_is_chosen_by_primary_subtag_and_unknown_languages_read_english() {
        let de = reset("de-AT").render(&brand());
        assert_eq!(de.subject, "Ihr Passwort für Neon zurücksetzen");
        assert!(de.text.contains("innerhalb von 30 Minuten"));
        assert!(de.html.contains("<html lang=\"de\">"));
        let unknown = reset("tlh").render(&brand());
        assert_eq!(unknown.subject, "Reset your Neon password");
    }

    #[test]
    fn a_rejection_quotes_the_reason_and_an_approval_does_not() {
        let letter = |outcome| Letter {
            language: "en".into(),
            greeting_name: "Pat".into(),
            kind: LetterKind::PartnerDecision {
                app: "Neon Sync".into(),
                outcome,
                reason: Some("Needs a privacy policy".into()),
                link: "https://id.example.com/developers".into(),
            },
        };
        let rejected = letter(PartnerOutcome::Rejected).render(&brand());
        assert_eq!(rejected.subject, "Your request for Neon Sync was declined");
        assert!(rejected.text.contains("> Needs a privacy policy"));
        let approved = letter(PartnerOutcome::Approved).render(&brand());
        assert_eq!(approved.subject, "Your app Neon Sync is approved");
        assert!(!approved.text.contains("privacy policy"));
    }

    #[test]
    fn durations_round_up_to_whole_units() {
        assert_eq!(whole_minutes(Duration::from_secs(61)), 2);
        assert_eq!(whole_minutes(Duration::from_secs(0)), 1);
        assert_eq!(whole_hours(Duration::from_secs(24 * 3600)), 24);
    }

    fn settings(smtp: Option<&str>, from: Option<&str>, dir: Option<PathBuf>) -> MailSettings {
        MailSettings {
            smtp_url: smtp.map(SecretString::new),
            from: from.map(str::to_owned),
            dev_dir: dir,
            brand: brand(),
        }
    }

    #[test]
    fn settings_are_checked_without_a_runtime() {
        assert!(settings(None, None, None).check().is_ok());
        assert!(
            settings(Some("smtp://127.0.0.1:25"), Some("a@example.com"), None)
                .check()
                .is_ok()
        );
        assert!(matches!(
            settings(Some("smtp://127.0.0.1:25"), None, None).check(),
            Err(MailSetupError::MissingFrom)
        ));
        assert!(matches!(
            settings(Some("pop3://127.0.0.1"), Some("a@example.com"), None).check(),
            Err(MailSetupError::SmtpUrl(_))
        ));
        let dir = std::env::temp_dir().join("gatehouse-mail-never-created");
        assert!(
            settings(None, Some("x <y"), Some(dir.clone()))
                .check()
                .is_err()
        );
        assert!(!dir.exists(), "checking creates nothing");
    }

    #[tokio::test]
    async fn settings_choose_smtp_the_dev_directory_or_nothing() {
        assert!(
            Mailer::from_settings(&settings(None, None, None))
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            Mailer::from_settings(&settings(Some("smtp://127.0.0.1:2525"), None, None)),
            Err(MailSetupError::MissingFrom)
        ));
        assert!(matches!(
            Mailer::from_settings(&settings(
                Some("smtp://127.0.0.1:2525"),
                Some("not a mailbox"),
                None
            )),
            Err(MailSetupError::BadFrom(_))
        ));
        let err = Mailer::from_settings(&settings(
            Some("ftp://user:hunter2@host"),
            Some("a@example.com"),
            None,
        ))
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let smtp = Mailer::from_settings(&settings(
            Some("smtp://user:hunter2@127.0.0.1:587?tls=required"),
            Some("Neon <id@example.com>"),
            None,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(smtp.describe(), "SMTP");
        assert!(!format!("{smtp:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn dev_mode_writes_an_eml_file_per_message() {
        let dir = std::env::temp_dir().join(format!("gatehouse-mail-{}", std::process::id()));
        let mailer = Mailer::from_settings(&settings(None, None, Some(dir.clone())))
            .unwrap()
            .unwrap();
        let delivered = mailer
            .send("alice@example.com", &reset("en"))
            .await
            .unwrap();
        let Delivered::File(path) = delivered else {
            panic!("written to a file")
        };
        assert!(path.starts_with(&dir));
        let eml = std::fs::read_to_string(&path).unwrap();
        assert!(eml.contains("To: alice@example.com"));
        assert!(eml.contains("From: Gatehouse <noreply@gatehouse.localhost>"));
        assert!(eml.contains("multipart/alternative"));
        assert!(matches!(
            mailer.send("not an address", &reset("en")).await,
            Err(MailError::BadRecipient(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
