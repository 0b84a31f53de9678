//! Scope parsing (RFC 6749 §3.3): `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, space separated.
#![no_main]

use gatehouse_core::scope::ScopeSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = ScopeSet::parse(text) {
        for scope in set.iter() {
            let s = scope.as_str();
            assert!(!s.is_empty());
            assert!(
                s.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)),
                "invalid scope token accepted: {s:?}"
            );
        }
        // Round trip: the printed set parses to the same set.
        let printed = set.to_string();
        match ScopeSet::parse(&printed) {
            Ok(again) => assert_eq!(again.to_string(), printed),
            Err(e) => panic!("printed scope set does not parse: {printed:?}: {e:?}"),
        }
        assert!(set.is_subset_of(&set));
    }
});
