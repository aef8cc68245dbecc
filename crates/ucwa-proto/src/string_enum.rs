//! Enumerations spelled as strings on the wire, each spelling written once.
//!
//! `string_enum!` declares an enum from `Variant = "spelling"` pairs and
//! derives everything else from that one list: `as_str`, `From<&str>`, `Display`, and serde
//! that reads and writes exactly the spelling. A value the list does not know is kept as it was
//! received (ruma's `_Custom` variant), so a client keeps working when the protocol grows and a
//! relayed value round-trips unchanged; [`strict`] turns such values into errors for tests
//! that must prove the model covers everything a server sends.

use std::cell::Cell;

/// A value of a string enumeration that the enumeration does not list. Private so that a
/// known spelling can never hide in it: build values with `From<&str>`.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrivOwnedStr(pub(crate) Box<str>);

thread_local! {
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with unknown enumeration values and unknown resource kinds refused during
/// deserialization on this thread: what a conformance test uses to show that every value a
/// server emitted is one the model names. Ordinary parsing keeps unknown values instead.
pub fn strict<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            STRICT.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(STRICT.with(|s| s.replace(true)));
    f()
}

/// Whether [`strict`] is in force on this thread.
pub(crate) fn is_strict() -> bool {
    STRICT.with(Cell::get)
}

/// Declares a string enumeration: `pub enum Name { Variant = "spelling", ... }`. See the
/// module documentation.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
            /// A value this enumeration does not list, kept as received.
            #[doc(hidden)]
            _Custom($crate::string_enum::PrivOwnedStr),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::_Custom(s) => &s.0,
                }
            }

            /// Whether this is one of the listed values.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::_Custom(_))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $text => Self::$variant, )+
                    other => Self::_Custom($crate::string_enum::PrivOwnedStr(other.into())),
                }
            }
        }

        impl ::std::convert::From<&String> for $name {
            fn from(s: &String) -> Self {
                Self::from(s.as_str())
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(s: String) -> Self {
                Self::from(s.as_str())
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                let value = Self::from(text.as_ref());
                if !value.is_known() && $crate::string_enum::is_strict() {
                    return Err(<D::Error as ::serde::de::Error>::custom(format!(
                        "`{}` is not a {} this model knows",
                        value.as_str(),
                        stringify!($name)
                    )));
                }
                Ok(value)
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    string_enum! {
        enum Colour {
            Red = "red",
            DarkBlue = "darkBlue",
        }
    }

    #[test]
    fn one_spelling_both_ways() {
        assert_eq!(Colour::DarkBlue.as_str(), "darkBlue");
        assert_eq!(Colour::from("darkBlue"), Colour::DarkBlue);
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
        assert_eq!(serde_json::from_str::<Colour>("\"darkBlue\"").unwrap(), Colour::DarkBlue);
    }

    #[test]
    fn unknown_values_round_trip_unless_strict() {
        let green: Colour = serde_json::from_str("\"green\"").unwrap();
        assert!(!green.is_known());
        assert_eq!(serde_json::to_string(&green).unwrap(), "\"green\"");
        let refused = strict(|| serde_json::from_str::<Colour>("\"green\""));
        assert!(refused.unwrap_err().to_string().contains("`green` is not a Colour"));
        assert!(strict(|| serde_json::from_str::<Colour>("\"red\"")).is_ok());
        // The flag does not outlive the call.
        assert!(serde_json::from_str::<Colour>("\"green\"").is_ok());
    }
}
