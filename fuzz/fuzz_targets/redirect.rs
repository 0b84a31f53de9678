//! Redirect URI matching (exact match, RFC 8252 loopback port) and registration rules.
//! Input: a registered URI, a newline, the requested URI.
#![no_main]

use gatehouse_core::redirect::{RedirectUri, find_match, validate_registered};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let _ = validate_registered(registered, false);
    let _ = validate_registered(registered, true);
    let _ = validate_registered(requested, true);

    // Only a URI that passed registration is ever matched against.
    let Ok(registered_uri) = RedirectUri::parse(registered, true) else {
        return;
    };
    let list = vec![registered_uri];
    if let Some(m) = find_match(&list, requested) {
        assert_eq!(m.as_str(), registered);
        let matched = RedirectUri::matching(&list, requested);
        assert_eq!(matched.as_ref().map(RedirectUri::as_str), Some(requested));
        if requested != registered {
            // Only a loopback IP literal may differ, and only in its port (RFC 8252 §7.3).
            let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
                panic!("a non-exact match of unparseable URIs: {registered:?} {requested:?}");
            };
            assert_eq!(a.scheme(), b.scheme());
            assert_eq!(a.host_str(), b.host_str());
            assert_eq!(a.path(), b.path());
            assert_eq!(a.query(), b.query());
            assert_eq!(a.username(), b.username());
            assert_eq!(a.password(), b.password());
            assert!(matches!(
                a.host(),
                Some(url::Host::Ipv4(_)) | Some(url::Host::Ipv6(_))
            ));
        }
    }
});
