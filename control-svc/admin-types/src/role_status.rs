//! Roles and the statuses of users, tokens and channels as enums. The numbers are Veloera's: they are stored
//! in the database and sent in the API's integer fields unchanged, so `as_i32`/`as_i64` and `TryFrom` are the
//! only ways between an enum and its number.

/// A number that names no variant of the enum it was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownNumber {
    pub what: &'static str,
    pub number: i64,
}

impl std::fmt::Display for UnknownNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a known {}", self.number, self.what)
    }
}

impl std::error::Error for UnknownNumber {}

/// An enum with Veloera's numbers: `$name::$variant = $number`, converted both ways.
macro_rules! numbered {
    ($(#[$doc:meta])* $name:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident = $number:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $number,)*
        }

        impl $name {
            /// Every variant, in ascending order of its number.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The number as stored and sent.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }

            /// The number as the database's integer columns hold it.
            pub const fn as_i64(self) -> i64 {
                self as i64
            }
        }

        impl TryFrom<i32> for $name {
            type Error = UnknownNumber;

            fn try_from(number: i32) -> Result<Self, UnknownNumber> {
                Self::try_from(i64::from(number))
            }
        }

        impl TryFrom<i64> for $name {
            type Error = UnknownNumber;

            fn try_from(number: i64) -> Result<Self, UnknownNumber> {
                match number {
                    $($number => Ok($name::$variant),)*
                    _ => Err(UnknownNumber { what: $what, number }),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.as_i32()
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                value.as_i64()
            }
        }
    };
}

numbered! {
    /// What an account may do; ordered, so `role >= Role::Admin` reads as "at least an administrator".
    Role ("role") {
        Guest = 0,
        Common = 1,
        Admin = 10,
        Root = 100,
    }
}

numbered! {
    /// Whether an account may sign in and use its tokens.
    UserStatus ("user status") {
        Enabled = 1,
        Disabled = 2,
    }
}

numbered! {
    /// Whether a token admits requests, and why not.
    TokenStatus ("token status") {
        Enabled = 1,
        Disabled = 2,
        Expired = 3,
        Exhausted = 4,
    }
}

numbered! {
    /// Whether a channel serves requests: disabled by an administrator, or by health checks (`AutoDisabled`).
    ChannelStatus ("channel status") {
        Enabled = 1,
        Disabled = 2,
        AutoDisabled = 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_goes_to_its_number_and_back() {
        for role in Role::ALL {
            assert_eq!(Role::try_from(role.as_i32()), Ok(*role));
        }
        for status in TokenStatus::ALL {
            assert_eq!(TokenStatus::try_from(status.as_i64()), Ok(*status));
        }
        for status in ChannelStatus::ALL {
            assert_eq!(ChannelStatus::try_from(status.as_i32()), Ok(*status));
        }
        for status in UserStatus::ALL {
            assert_eq!(UserStatus::try_from(status.as_i64()), Ok(*status));
        }
    }

    #[test]
    fn veloeras_numbers_are_kept() {
        assert_eq!(Role::ALL.iter().map(|r| r.as_i32()).collect::<Vec<_>>(), [0, 1, 10, 100]);
        assert_eq!((TokenStatus::Expired.as_i32(), TokenStatus::Exhausted.as_i32()), (3, 4));
        assert_eq!(ChannelStatus::AutoDisabled.as_i64(), 3);
        assert_eq!(UserStatus::Disabled.as_i32(), 2);
    }

    #[test]
    fn an_unknown_number_is_refused_with_what_it_was_read_as() {
        let refused = Role::try_from(5_i32).unwrap_err();
        assert_eq!(refused.to_string(), "5 is not a known role");
        assert!(ChannelStatus::try_from(4_i64).is_err());
        assert!(UserStatus::try_from(3_i32).is_err());
    }

    #[test]
    fn roles_order_by_their_numbers() {
        assert!(Role::Guest < Role::Common && Role::Common < Role::Admin && Role::Admin < Role::Root);
    }
}
