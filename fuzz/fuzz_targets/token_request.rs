//! The token endpoint's input: an `application/x-www-form-urlencoded` body read into a [`Form`]
//! (repeats refused), and the client credentials from an `Authorization` header and the form.
//! Input layout: the header value, a NUL byte, then the body.
#![no_main]

use gatehouse_core::token_request::{Form, form_decode, parse_basic, presented_credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let header = std::str::from_utf8(header).ok().filter(|h| !h.is_empty());

    if let Some(h) = header {
        let _ = parse_basic(h);
        let _ = form_decode(h);
    }
    if let Ok(s) = std::str::from_utf8(body) {
        if let Some(decoded) = form_decode(s) {
            // Decoding never grows the text.
            assert!(decoded.len() <= s.len());
        }
    }

    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    // `resource` alone may repeat (RFC 8707 §2).
    let has_repeat = names
        .windows(2)
        .any(|w| w[0] == w[1] && w[0] != "resource");
    match Form::from_pairs(pairs.clone()) {
        Ok(form) => {
            assert!(!has_repeat, "a repeated parameter was accepted");
            if let Ok(creds) = presented_credentials(header, &form) {
                assert!(!creds.client_id().is_empty() || header.is_some());
                let _ = creds.method();
            }
        }
        Err(_) => assert!(has_repeat, "a form without repeats was refused"),
    }
});
