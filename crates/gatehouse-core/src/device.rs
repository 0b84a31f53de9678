//! The device authorization grant (RFC 8628): user codes, the device-code record and the rules
//! of polling.
//!
//! A device authorization is kept in the short-lived store under the keyed hash of its
//! `device_code` ([`DeviceAuthorization`]), with the keyed hash of its `user_code` pointing at it.
//! The user code is what a person types: 8 characters of [`USER_CODE_ALPHABET`] (RFC 8628 §6.1:
//! consonants only, no look-alikes), shown as `XXXX-XXXX`, read case-insensitively with the dash
//! and spaces optional ([`normalise_user_code`]). Each poll is judged by [`poll`]: the answers of
//! RFC 8628 §3.5, with `slow_down` growing the interval by [`SLOW_DOWN_STEP_SECS`] for good.

use serde::{Deserialize, Serialize};

use crate::client::ClientId;
use crate::scope::ScopeSet;

/// RFC 8628 §6.1: 20 consonants, none that reads like another character or a digit.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code (8 of 20: about 34.6 bits).
pub const USER_CODE_LENGTH: usize = 8;

/// The polling interval a device starts with, in seconds (RFC 8628 §3.2's default).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;

/// What `slow_down` adds to the interval, in seconds (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: u64 = 5;

/// The device grant's `grant_type` (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A fresh user code: each character drawn uniformly from [`USER_CODE_ALPHABET`].
pub fn new_user_code() -> String {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    (0..USER_CODE_LENGTH)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

/// A user code as people read it: `BCDF-GHJK`.
pub fn display_user_code(code: &str) -> String {
    match code.split_at_checked(USER_CODE_LENGTH / 2) {
        Some((a, b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// The user code someone typed, in its stored form (8 upper-case letters of the alphabet), or
/// `None` when it cannot be one: case does not matter, dashes and spaces are ignored.
pub fn normalise_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// Who approved a device authorization, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceApproval {
    pub subject: String,
    /// The granted scope (what the device asked for).
    pub scope: ScopeSet,
    /// When the user authenticated, Unix seconds (the ID token's `auth_time`).
    pub auth_time: i64,
    pub session_id: Option<String>,
    /// When the user approved, Unix milliseconds (for revocation cut-offs).
    pub approved_at_ms: i64,
    /// The grant's id: the refresh-token family and the access-token index.
    pub grant_id: String,
    /// RFC 8176 methods of the sign-in that approved (the tokens' `amr` and `acr`). Empty in
    /// approvals of older releases: a password.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeviceStatus {
    Pending,
    Approved(DeviceApproval),
    Denied,
}

/// A device authorization as stored, under the keyed hash of its device code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    pub client_id: ClientId,
    /// The client incarnation it was started by.
    pub client_incarnation: String,
    pub scope: ScopeSet,
    /// Keyed hash of the user code (its key in the user-code namespace).
    pub user_code_hash: String,
    /// Unix seconds after which the codes are expired (`expired_token`).
    pub expires_at: i64,
    pub status: DeviceStatus,
}

/// When a device code was last polled and the interval it must keep, remembered per device
/// code apart from its authorization (so a poll never writes over an approval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollState {
    pub last_poll_ms: i64,
    pub interval_secs: u64,
}

/// The answer to one poll of the token endpoint (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollVerdict {
    /// Another client's device code: answered as an unknown one, nothing recorded.
    NotThisClient,
    /// `expired_token`.
    Expired,
    /// `slow_down`: polled before the interval had passed.
    SlowDown,
    /// `authorization_pending`.
    Pending,
    /// `access_denied`.
    Denied,
    /// Issue the tokens (once).
    Approved(DeviceApproval),
}

/// Judges a poll by `client_id` at `now_ms` (Unix milliseconds) of `authorization`, with the
/// last poll's state; answers the verdict and the poll state to remember (`None`: keep what is
/// stored). A poll within the interval is `slow_down` and grows the interval by
/// [`SLOW_DOWN_STEP_SECS`]; the interval is measured from the last poll, answered or not.
pub fn poll(
    authorization: &DeviceAuthorization,
    client_id: &str,
    last: Option<PollState>,
    now_ms: i64,
) -> (PollVerdict, Option<PollState>) {
    if authorization.client_id.as_str() != client_id {
        return (PollVerdict::NotThisClient, None);
    }
    if now_ms >= authorization.expires_at.saturating_mul(1000) {
        return (PollVerdict::Expired, None);
    }
    let interval_secs = last.map_or(DEFAULT_INTERVAL_SECS, |l| l.interval_secs);
    let too_soon = last.is_some_and(|l| {
        now_ms.saturating_sub(l.last_poll_ms)
            < i64::try_from(interval_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    });
    if too_soon {
        let slower = PollState {
            last_poll_ms: now_ms,
            interval_secs: interval_secs.saturating_add(SLOW_DOWN_STEP_SECS),
        };
        return (PollVerdict::SlowDown, Some(slower));
    }
    let next = Some(PollState {
        last_poll_ms: now_ms,
        interval_secs,
    });
    let verdict = match &authorization.status {
        DeviceStatus::Pending => PollVerdict::Pending,
        DeviceStatus::Denied => PollVerdict::Denied,
        DeviceStatus::Approved(approval) => PollVerdict::Approved(approval.clone()),
    };
    (verdict, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(status: DeviceStatus) -> DeviceAuthorization {
        DeviceAuthorization {
            client_id: match ClientId::parse("tv-app") {
                Ok(id) => id,
                Err(e) => panic!("{e}"),
            },
            client_incarnation: "i1".into(),
            scope: ScopeSet::default(),
            user_code_hash: "h".into(),
            expires_at: 1_000,
            status,
        }
    }

    fn approval() -> DeviceApproval {
        DeviceApproval {
            subject: "u1".into(),
            scope: ScopeSet::default(),
            auth_time: 900,
            session_id: None,
            approved_at_ms: 950_000,
            grant_id: "g1".into(),
            amr: Vec::new(),
        }
    }

    #[test]
    fn user_codes_use_the_alphabet_and_every_letter_of_it() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), USER_CODE_LENGTH);
            assert_eq!(normalise_user_code(&code), Some(code.clone()), "{code}");
            seen.extend(code.bytes());
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<u8>>(),
            USER_CODE_ALPHABET.to_vec(),
            "1,600 characters use every letter"
        );
        assert_ne!(new_user_code(), new_user_code());
    }

    #[test]
    fn user_codes_are_shown_with_a_dash_in_the_middle() {
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(display_user_code("BCDF"), "BCDF");
        assert_eq!(display_user_code("BC"), "BC");
        assert_eq!(display_user_code("BCDFGHJKÜ"), "BCDF-GHJKÜ");
    }

    #[test]
    fn typed_codes_ignore_case_dashes_and_spaces() {
        let want = Some("BCDFGHJK".to_owned());
        assert_eq!(normalise_user_code("BCDF-GHJK"), want);
        assert_eq!(normalise_user_code("bcdf-ghjk"), want);
        assert_eq!(normalise_user_code(" bcdf ghjk "), want);
        assert_eq!(normalise_user_code("bcdfghjk"), want);
        assert_eq!(normalise_user_code("BCDF-GHJ"), None, "too short");
        assert_eq!(normalise_user_code("BCDF-GHJKL"), None, "too long");
        assert_eq!(normalise_user_code("BCDF-GHJA"), None, "a vowel");
        assert_eq!(normalise_user_code("BCDF-GHJ1"), None, "a digit");
        assert_eq!(normalise_user_code("BCDF_GHJK"), None, "another separator");
        assert_eq!(normalise_user_code(""), None);
    }

    #[test]
    fn another_clients_poll_learns_nothing_and_records_nothing() {
        let a = authorization(DeviceStatus::Approved(approval()));
        assert_eq!(
            poll(&a, "other", None, 0),
            (PollVerdict::NotThisClient, None)
        );
    }

    #[test]
    fn a_code_expires_at_its_second() {
        let a = authorization(DeviceStatus::Pending);
        assert_eq!(
            poll(&a, "tv-app", None, 1_000_000),
            (PollVerdict::Expired, None)
        );
        assert_eq!(poll(&a, "tv-app", None, 999_999).0, PollVerdict::Pending);
        let approved = authorization(DeviceStatus::Approved(approval()));
        assert_eq!(
            poll(&approved, "tv-app", None, 1_000_001).0,
            PollVerdict::Expired
        );
    }

    #[test]
    fn polling_within_the_interval_slows_down_for_good() {
        let a = authorization(DeviceStatus::Pending);
        let (verdict, state) = poll(&a, "tv-app", None, 100_000);
        assert_eq!(verdict, PollVerdict::Pending);
        let first = PollState {
            last_poll_ms: 100_000,
            interval_secs: 5,
        };
        assert_eq!(state, Some(first));
        // One millisecond too soon.
        let (verdict, state) = poll(&a, "tv-app", Some(first), 104_999);
        assert_eq!(verdict, PollVerdict::SlowDown);
        let slower = PollState {
            last_poll_ms: 104_999,
            interval_secs: 10,
        };
        assert_eq!(state, Some(slower));
        // The new interval holds from the last poll.
        let (verdict, state) = poll(&a, "tv-app", Some(slower), 113_000);
        assert_eq!(verdict, PollVerdict::SlowDown);
        assert_eq!(
            state,
            Some(PollState {
                last_poll_ms: 113_000,
                interval_secs: 15
            })
        );
        // Exactly the interval later is on time, and the interval stays.
        let (verdict, state) = poll(&a, "tv-app", Some(slower), 114_999);
        assert_eq!(verdict, PollVerdict::Pending);
        assert_eq!(
            state,
            Some(PollState {
                last_poll_ms: 114_999,
                interval_secs: 10
            })
        );
    }

    #[test]
    fn on_time_polls_answer_the_status() {
        let last = Some(PollState {
            last_poll_ms: 0,
            interval_secs: 5,
        });
        let denied = authorization(DeviceStatus::Denied);
        assert_eq!(poll(&denied, "tv-app", last, 5_000).0, PollVerdict::Denied);
        let approved = authorization(DeviceStatus::Approved(approval()));
        assert_eq!(
            poll(&approved, "tv-app", last, 5_000).0,
            PollVerdict::Approved(approval())
        );
        assert_eq!(
            poll(&approved, "tv-app", last, 4_000).0,
            PollVerdict::SlowDown,
            "an approved code polled too soon waits too"
        );
    }

    #[test]
    fn the_status_is_stored_tagged() {
        let json = match serde_json::to_value(DeviceStatus::Denied) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(json, serde_json::json!({"status": "denied"}));
    }
}
