//! The decisions of the authorization flow, as pure functions: whether a login session can be
//! reused, whether consent can be skipped, and which error `prompt=none` ends with.
//!
//! OpenID Connect Core §3.1.2.1 (`prompt`, `max_age`) and §3.1.2.6 (`login_required`,
//! `consent_required`).

use gatehouse_core::authorize::Prompt;
use gatehouse_core::error::ErrorCode;
use gatehouse_core::scope::ScopeSet;

/// Whether the user must (re-)authenticate although a session with `auth_time` may exist:
/// no session, `prompt=login`, or `max_age` seconds have passed since `auth_time`.
pub fn needs_login(prompt: Prompt, max_age: Option<u64>, auth_time: Option<i64>, now: i64) -> bool {
    let Some(auth_time) = auth_time else {
        return true;
    };
    if prompt.login {
        return true;
    }
    // A negative age (auth_time in the future) fails the conversion and counts as too old.
    max_age.is_some_and(|max_age| {
        max_age == 0
            || u64::try_from(now.saturating_sub(auth_time))
                .ok()
                .is_none_or(|age| age > max_age)
    })
}

/// Whether a signed-in `subject` may answer a request whose `id_token_hint` named `hinted` (no
/// hint: anyone may).
pub fn session_matches_hint(hinted: Option<&str>, subject: &str) -> bool {
    hinted.is_none_or(|hinted| hinted == subject)
}

/// Whether the consent screen must be shown. Skipped for first-party clients (`skip_consent`)
/// and when a remembered consent already covers every requested scope; `prompt=consent` always
/// shows it.
pub fn needs_consent(
    prompt: Prompt,
    skip_consent: bool,
    requested: &ScopeSet,
    remembered: Option<&ScopeSet>,
) -> bool {
    if prompt.consent {
        return true;
    }
    if skip_consent {
        return false;
    }
    !remembered.is_some_and(|granted| requested.is_subset_of(granted))
}

/// What happens to an authorization request once we know about the session and the consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Show the login page.
    Login,
    /// Show the consent page.
    Consent,
    /// Issue the code and send the user back to the client.
    IssueCode,
    /// `prompt=none` cannot be honoured: redirect this error to the client.
    Fail(ErrorCode),
}

/// The next step for a request with a usable session (`signed_in`) and a consent decision
/// (`consent_needed`; irrelevant when not signed in).
pub fn next_step(prompt: Prompt, signed_in: bool, consent_needed: bool) -> Next {
    match (prompt.none, signed_in, consent_needed) {
        (true, false, _) => Next::Fail(ErrorCode::LoginRequired),
        (true, true, true) => Next::Fail(ErrorCode::ConsentRequired),
        (false, false, _) => Next::Login,
        (_, true, true) => Next::Consent,
        (_, true, false) => Next::IssueCode,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn scopes(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn a_live_session_is_reused_unless_prompt_login_or_max_age_says_otherwise() {
        let plain = Prompt::default();
        assert!(needs_login(plain, None, None, NOW), "no session");
        assert!(!needs_login(plain, None, Some(NOW - 86_400), NOW));
        let login = Prompt {
            login: true,
            ..Prompt::default()
        };
        assert!(needs_login(login, None, Some(NOW), NOW));
        assert!(!needs_login(plain, Some(600), Some(NOW - 600), NOW));
        assert!(needs_login(plain, Some(600), Some(NOW - 601), NOW));
        assert!(
            needs_login(plain, Some(0), Some(NOW), NOW),
            "max_age=0 forces a login"
        );
        assert!(
            needs_login(plain, Some(600), Some(NOW + 60), NOW),
            "auth_time in the future"
        );
    }

    #[test]
    fn consent_is_skipped_for_first_party_clients_and_remembered_grants() {
        let plain = Prompt::default();
        let asked = scopes("openid offline urn:neoncloud:projects:read");
        assert!(needs_consent(plain, false, &asked, None));
        assert!(!needs_consent(plain, true, &asked, None));
        let granted =
            scopes("openid offline urn:neoncloud:projects:read urn:neoncloud:projects:create");
        assert!(!needs_consent(plain, false, &asked, Some(&granted)));
        let partial = scopes("openid offline");
        assert!(
            needs_consent(plain, false, &asked, Some(&partial)),
            "a new scope needs consent"
        );
        let consent = Prompt {
            consent: true,
            ..Prompt::default()
        };
        assert!(needs_consent(consent, false, &asked, Some(&granted)));
        assert!(needs_consent(consent, true, &asked, None));
    }

    #[test]
    fn a_session_answers_a_hinted_request_only_for_the_hinted_user() {
        assert!(session_matches_hint(None, "alice"));
        assert!(session_matches_hint(Some("alice"), "alice"));
        assert!(!session_matches_hint(Some("carol"), "alice"));
    }

    #[test]
    fn prompt_none_fails_with_login_or_consent_required() {
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        assert_eq!(
            next_step(none, false, true),
            Next::Fail(ErrorCode::LoginRequired)
        );
        assert_eq!(
            next_step(none, true, true),
            Next::Fail(ErrorCode::ConsentRequired)
        );
        assert_eq!(next_step(none, true, false), Next::IssueCode);
        let plain = Prompt::default();
        assert_eq!(next_step(plain, false, false), Next::Login);
        assert_eq!(next_step(plain, true, true), Next::Consent);
        assert_eq!(next_step(plain, true, false), Next::IssueCode);
    }
}
