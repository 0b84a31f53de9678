//! The protocol's enumerated values, typed: grant types, response types and response modes.
//!
//! Each is parsed once where it enters (the admin API, the CLI, the token form, the authorization
//! request) and travels as its enum after that, so supporting a new value is one variant here
//! and the compiler points at every `match` that must learn it. [`protocol_values!`] gives each
//! enum the same small surface: `ALL`, `as_str`, `parse`, `Display`, and serde as the RFC's
//! string (an unknown string is a deserialization error naming the accepted values).

/// Declares a protocol value enum and its string forms.
macro_rules! protocol_values {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The value as the protocol writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// The value named `s` (exactly, case-sensitive as the RFCs define them).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $text => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// The accepted names, for error messages: `a, b or c`.
            pub fn names() -> String {
                $crate::protocol::join_names(Self::ALL.iter().map(|v| v.as_str()))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    ::serde::de::Error::custom(format!(
                        "{} {:?} is not supported; use {}",
                        $what,
                        s,
                        Self::names()
                    ))
                })
            }
        }
    };
}
pub(crate) use protocol_values;

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

protocol_values! {
    /// How a client obtains tokens at the token endpoint (RFC 6749 §4; the `grant_type`
    /// parameter and the `grant_types` client metadata of RFC 7591 §2).
    pub enum GrantType ("grant type") {
        /// RFC 6749 §4.1.
        AuthorizationCode => "authorization_code",
        /// RFC 6749 §6.
        RefreshToken => "refresh_token",
        /// RFC 6749 §4.4: confidential clients only.
        ClientCredentials => "client_credentials",
        /// RFC 8628 §3.4: the device authorization grant.
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
    }
}

protocol_values! {
    /// What the authorization endpoint returns (RFC 6749 §3.1.1; `response_types` metadata).
    pub enum ResponseType ("response type") {
        /// The authorization code flow (RFC 6749 §4.1).
        Code => "code",
    }
}

protocol_values! {
    /// How the authorization response travels (OAuth 2.0 Multiple Response Type Encoding
    /// Practices §2.1, OAuth 2.0 Form Post Response Mode). `fragment` is known so it is refused
    /// by name: a code never travels in a fragment.
    #[derive(Default)]
    pub enum ResponseMode ("response_mode") {
        #[default]
        Query => "query",
        Fragment => "fragment",
        /// The parameters as an HTML form the browser posts to the redirect URI.
        FormPost => "form_post",
    }
}

impl ResponseMode {
    /// The modes the authorization endpoint answers in.
    pub const SUPPORTED: &'static [Self] = &[Self::Query, Self::FormPost];

    /// The mode a request's `response_mode` parameter asks for, when it is one that is answered;
    /// `query` otherwise (also the mode an error about the parameter itself travels in).
    pub fn requested(param: Option<&str>) -> Self {
        param
            .and_then(Self::parse)
            .filter(|m| Self::SUPPORTED.contains(m))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_name_and_serde() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(*g));
            let json = serde_json::to_string(g).unwrap();
            assert_eq!(json, format!("\"{g}\""));
            assert_eq!(serde_json::from_str::<GrantType>(&json).unwrap(), *g);
        }
        for r in ResponseType::ALL {
            assert_eq!(ResponseType::parse(r.as_str()), Some(*r));
        }
        for m in ResponseMode::ALL {
            assert_eq!(ResponseMode::parse(m.as_str()), Some(*m));
        }
    }

    #[test]
    fn unknown_names_are_refused_naming_what_is_accepted() {
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(GrantType::parse("Authorization_Code"), None);
        let err = serde_json::from_str::<GrantType>("\"implicit\"").unwrap_err();
        assert!(
            err.to_string().contains(
                "grant type \"implicit\" is not supported; use authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code"
            ),
            "{err}"
        );
        assert_eq!(ResponseType::parse("token"), None);
        assert_eq!(ResponseMode::parse("jwt"), None);
    }

    #[test]
    fn names_are_joined_for_people() {
        assert_eq!(join_names([].into_iter()), "");
        assert_eq!(join_names(["a"].into_iter()), "a");
        assert_eq!(join_names(["a", "b"].into_iter()), "a or b");
        assert_eq!(join_names(["a", "b", "c"].into_iter()), "a, b or c");
    }
}
