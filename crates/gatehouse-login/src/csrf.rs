//! CSRF protection: a double-submit token bound to the browser.
//!
//! Every browser gets an `HttpOnly` cookie holding a random value (the "browser cookie"). A
//! form's hidden `csrf_token` is HMAC(system secret, browser cookie ∥ form purpose): a page
//! cannot forge it without the secret, a token from another browser (another cookie) fails, and
//! a token for one form does not work on another. Comparison is constant-time.

use axum::http::{HeaderMap, HeaderValue};
use gatehouse_core::secret::{KeyedHasher, constant_time_eq, random_token};

use crate::cookies;

/// The forms that carry a CSRF token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Consent,
    SwitchAccount,
    Revoke,
    Logout,
    Device,
    /// The partner portal's app form.
    PortalApp,
    PortalReveal,
    PortalRotate,
    /// "Forgot password?", the new-password form and the email confirmation.
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
    Register,
    /// The second-factor step of a sign-in (a code, or enrolment at sign-in).
    SecondFactor,
    /// The account's security page (TOTP enrolment, removal, new recovery codes).
    Security,
    /// The account page (profile, password, email address, sessions).
    Account,
}

impl Purpose {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Consent => "consent",
            Self::SwitchAccount => "switch-account",
            Self::Revoke => "revoke",
            Self::Logout => "logout",
            Self::Device => "device",
            Self::PortalApp => "portal-app",
            Self::PortalReveal => "portal-reveal",
            Self::PortalRotate => "portal-rotate",
            Self::ForgotPassword => "forgot-password",
            Self::ResetPassword => "reset-password",
            Self::VerifyEmail => "verify-email",
            Self::Register => "register",
            Self::SecondFactor => "second-factor",
            Self::Security => "security",
            Self::Account => "account",
        }
    }
}

/// The browser's identity: the browser cookie's value, minted on first sight. Its `Debug` hides
/// the value (with the system secret, it is what CSRF tokens are bound to).
#[derive(Clone)]
pub struct Browser {
    id: String,
    /// The response must set the cookie.
    is_new: bool,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("id", &format_args!("[redacted]"))
            .field("is_new", &self.is_new)
            .finish()
    }
}

impl Browser {
    /// The browser cookie from the request, or a fresh one.
    pub fn from_headers(headers: &HeaderMap, scope: &cookies::Scope) -> Self {
        match cookies::get(headers, &cookies::name(cookies::BROWSER, scope))
            .filter(|v| cookies::is_token(v))
        {
            Some(id) => Self {
                id: id.to_owned(),
                is_new: false,
            },
            None => Self {
                id: random_token(32),
                is_new: true,
            },
        }
    }

    /// The browser cookie only if the request carried one: forms are refused without it.
    pub fn existing(headers: &HeaderMap, scope: &cookies::Scope) -> Option<Self> {
        let b = Self::from_headers(headers, scope);
        (!b.is_new).then_some(b)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `Set-Cookie` to send when the cookie is new. It lives as long as the browser.
    pub fn set_cookie(&self, scope: &cookies::Scope) -> Option<HeaderValue> {
        if !self.is_new {
            return None;
        }
        cookies::set(
            &cookies::name(cookies::BROWSER, scope),
            &self.id,
            cookies::Lifetime::Browser,
            scope,
        )
    }
}

/// Mints and checks CSRF tokens.
#[derive(Debug, Clone)]
pub struct Csrf {
    keys: KeyedHasher,
}

impl Csrf {
    pub fn new(system_secret: &[u8]) -> Self {
        Self {
            keys: KeyedHasher::new(system_secret, "login-ui/csrf"),
        }
    }

    pub fn token(&self, browser: &Browser, purpose: Purpose) -> String {
        self.keys
            .hash(&format!("{}\u{0}{}", purpose.as_str(), browser.id))
    }

    /// Whether `submitted` is the token for this browser and form.
    pub fn verify(
        &self,
        browser: Option<&Browser>,
        purpose: Purpose,
        submitted: Option<&str>,
    ) -> bool {
        match (browser, submitted) {
            (Some(b), Some(s)) => constant_time_eq(self.token(b, purpose).as_bytes(), s.as_bytes()),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser() -> Browser {
        Browser::from_headers(&HeaderMap::new(), &cookies::Scope::new(false, ""))
    }

    #[test]
    fn a_browser_prints_no_cookie_value() {
        let b = browser();
        let printed = format!("{b:?} {b:#?}");
        assert!(!printed.contains(b.id()), "{printed}");
    }

    #[test]
    fn a_token_is_bound_to_its_browser_and_its_form() {
        let csrf = Csrf::new(b"secret-0123456789abcdef0123456789");
        let (mine, theirs) = (browser(), browser());
        let token = csrf.token(&mine, Purpose::Login);
        assert!(csrf.verify(Some(&mine), Purpose::Login, Some(&token)));
        assert!(!csrf.verify(Some(&theirs), Purpose::Login, Some(&token)));
        assert!(!csrf.verify(Some(&mine), Purpose::Consent, Some(&token)));
        assert!(!csrf.verify(Some(&mine), Purpose::Login, None));
        assert!(!csrf.verify(None, Purpose::Login, Some(&token)));
    }

    #[test]
    fn another_secret_mints_other_tokens() {
        let b = browser();
        let a = Csrf::new(b"secret-a-0123456789abcdef0123456789").token(&b, Purpose::Login);
        assert!(!Csrf::new(b"secret-b-0123456789abcdef0123456789").verify(
            Some(&b),
            Purpose::Login,
            Some(&a)
        ));
    }
}
