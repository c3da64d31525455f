//! Settings by name: what a row of the settings table says (name, kind, scope, doc), the values
//! a binding passes, and the `settings!` macro that turns the table in `config.rs` into
//! [`SETTINGS`](crate::SETTINGS), [`Config::set`](crate::Config::set) and
//! [`Config::add`](crate::Config::add).
//!
//! The C API and the Python package set every setting through those two functions, converting
//! their own values by the setting's kind, so a row added to the table reaches both of them;
//! only the `Custom` rows (a setting made of several values) have functions of their own there.

use crate::error::{Error, ErrorKind, Result};
use crate::pem::Pem;
use std::time::Duration;

/// What a setting holds, which says how a binding passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingKind {
    /// True or false.
    Bool,
    /// A number of things, greater than 0.
    Count,
    /// A number of things, or none (no such limit, or the default); C gives none as 0.
    OptionalCount,
    /// A size in bytes.
    Bytes,
    /// A length of time, at most [`MAX_DURATION`](crate::MAX_DURATION).
    Duration,
    /// A length of time, or none (the feature off, or the default); C gives none as 0.
    OptionalDuration,
    /// A string.
    Text,
    /// Strings; C adds them one at a time.
    TextList,
    /// Name/value pairs (names may repeat); C adds them one at a time.
    Pairs,
    /// PEM text or the path of a PEM file, or none.
    Pem,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// Several values that go together; each binding has its own functions for it.
    Custom,
}

impl SettingKind {
    /// The kind's name, as the bindings show it: `"bool"`, `"count"`, `"optional_duration"`...
    pub fn name(self) -> &'static str {
        match self {
            SettingKind::Bool => "bool",
            SettingKind::Count => "count",
            SettingKind::OptionalCount => "optional_count",
            SettingKind::Bytes => "bytes",
            SettingKind::Duration => "duration",
            SettingKind::OptionalDuration => "optional_duration",
            SettingKind::Text => "text",
            SettingKind::TextList => "text_list",
            SettingKind::Pairs => "pairs",
            SettingKind::Pem => "pem",
            SettingKind::Choice(_) => "choice",
            SettingKind::Custom => "custom",
        }
    }

    /// Whether the setting may be none ([`SettingValue::Unset`]).
    pub fn is_optional(self) -> bool {
        matches!(
            self,
            SettingKind::OptionalCount | SettingKind::OptionalDuration | SettingKind::Pem
        )
    }

    /// What the setting takes, for error messages.
    fn wants(self) -> String {
        match self {
            SettingKind::Bool => "true or false".into(),
            SettingKind::Count | SettingKind::Bytes => "an integer".into(),
            SettingKind::OptionalCount => "an integer or none".into(),
            SettingKind::Duration => "a duration".into(),
            SettingKind::OptionalDuration => "a duration or none".into(),
            SettingKind::Text => "a string".into(),
            SettingKind::TextList => "strings".into(),
            SettingKind::Pairs => "name/value pairs".into(),
            SettingKind::Pem => "PEM text or a PEM file".into(),
            SettingKind::Choice(names) => format!("one of {}", quoted(names)),
            SettingKind::Custom => "values of its own".into(),
        }
    }
}

/// What part of the connector a setting configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingScope {
    /// The inbound listener: the configuration must have one
    /// ([`Config::listener`](crate::Config::listener)).
    Listener,
    /// Outbound sockets.
    Client,
    /// Every socket, inbound or outbound.
    Socket,
    /// The connector as a whole.
    Connector,
}

/// One row of the settings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingInfo {
    /// The setting's name: the Python keyword, and the name the C API's generic setters take.
    pub name: &'static str,
    /// Other names the setting answers to everywhere its name does (an older, less clear name
    /// kept working); a binding refuses one setting given under two of its names
    /// ([`SettingNames`]).
    pub aliases: &'static [&'static str],
    /// What it holds.
    pub kind: SettingKind,
    /// What it configures.
    pub scope: SettingScope,
    /// One line on what it does.
    pub doc: &'static str,
}

impl SettingInfo {
    /// The setting's name, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// The setting's name or the alias that is `name`, if it answers to it.
    fn spelled(&self, name: &str) -> Option<&'static str> {
        self.names().find(|n| *n == name)
    }
}

/// The row of `table` that answers to `name` (its name or an alias), with that spelling.
pub(crate) fn find(
    table: &'static [SettingInfo],
    name: &str,
) -> Option<(&'static SettingInfo, &'static str)> {
    table
        .iter()
        .find_map(|s| s.spelled(name).map(|spelled| (s, spelled)))
}

/// The names a binding's caller gave settings under, so that one setting given under two of its
/// names (its name and an alias, say `max_inbound_connections` and `max_connections`) is an
/// error naming both rather than a guess at which one wins. The C API keeps one per
/// configuration, the Python package one per `Connector(...)` call; [`Config::set`] itself
/// takes either name (a later set replaces an earlier one, as for any setting).
///
/// [`Config::set`]: crate::Config::set
#[derive(Debug, Clone, Default)]
pub struct SettingNames {
    /// Each setting given so far (by its name) with the name it was given under.
    given: Vec<(&'static str, &'static str)>,
}

impl SettingNames {
    /// The setting of `table` that answers to `name`, with that spelling, when it may be given
    /// now: `InvalidArgument` naming both names when it was given under another of its names
    /// before; `None` when no setting answers to `name` (setting it fails on its own).
    pub(crate) fn check_in(
        &self,
        table: &'static [SettingInfo],
        name: &str,
    ) -> Result<Option<(&'static str, &'static str)>> {
        let Some((info, spelled)) = find(table, name) else {
            return Ok(None);
        };
        match self.given.iter().find(|(setting, _)| *setting == info.name) {
            Some((_, earlier)) if *earlier != spelled => Err(Error::invalid(format!(
                "{earlier} and {spelled} are one setting ({}): give it once, under one name",
                both_names(info)
            ))),
            _ => Ok(Some((info.name, spelled))),
        }
    }

    /// Notes that the setting `setting` was given as `spelled`.
    pub(crate) fn record(&mut self, (setting, spelled): (&'static str, &'static str)) {
        if !self.given.iter().any(|(s, _)| *s == setting) {
            self.given.push((setting, spelled));
        }
    }
}

/// `max_inbound_connections, also named max_connections`.
fn both_names(info: &SettingInfo) -> String {
    format!("{}, also named {}", info.name, info.aliases.join(" and "))
}

/// A value for [`Config::set`](crate::Config::set) or [`Config::add`](crate::Config::add);
/// which one a setting takes follows from its [`SettingKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// For `Bool`.
    Bool(bool),
    /// For `Count`, `OptionalCount` and `Bytes`.
    Int(u64),
    /// For `Duration` and `OptionalDuration`.
    Duration(Duration),
    /// For `Text` and `Choice`, and one item added to a `TextList`.
    Text(String),
    /// For `TextList`: every item (replaces the list).
    Texts(Vec<String>),
    /// One name/value pair added to `Pairs`.
    Pair(String, String),
    /// For `Pairs`: every pair (replaces them).
    Pairs(Vec<(String, String)>),
    /// For `Pem`.
    Pem(Pem),
    /// None, for an optional setting ([`SettingKind::is_optional`]).
    Unset,
}

impl SettingValue {
    /// What the value is, for error messages.
    fn what(&self) -> &'static str {
        match self {
            SettingValue::Bool(_) => "a boolean",
            SettingValue::Int(_) => "an integer",
            SettingValue::Duration(_) => "a duration",
            SettingValue::Text(_) => "a string",
            SettingValue::Texts(_) => "strings",
            SettingValue::Pair(..) => "a pair",
            SettingValue::Pairs(_) => "pairs",
            SettingValue::Pem(_) => "PEM",
            SettingValue::Unset => "none",
        }
    }
}

/// A value that a setting of kind [`SettingKind::Choice`] names.
pub(crate) trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every name, in the order of `ALL`.
    const NAMES: &'static [&'static str];
    /// Every value.
    const ALL: &'static [Self];
}

/// The name of a choice's value.
pub(crate) fn choice_name<T: Choice>(value: T) -> &'static str {
    T::ALL
        .iter()
        .position(|v| *v == value)
        .and_then(|i| T::NAMES.get(i))
        .copied()
        .unwrap_or("")
}

/// The row of `table` that answers to `name` (its name or an alias), when a configuration can
/// take it by name, as the caller spelled it (so that errors name what the caller wrote): an
/// error for an unknown name, a custom setting, or a listener setting on a configuration
/// without a listener.
pub(crate) fn settable(
    table: &'static [SettingInfo],
    name: &str,
    has_listener: bool,
) -> Result<(&'static SettingInfo, SettingInfo)> {
    let (info, spelled) = find(table, name)
        .ok_or_else(|| Error::invalid(format!("there is no setting named {name:?}")))?;
    if info.kind == SettingKind::Custom {
        return Err(Error::invalid(format!(
            "{name} is made of several values and has functions of its own; it cannot be set by name"
        )));
    }
    if info.scope == SettingScope::Listener && !has_listener {
        return Err(Error::new(
            ErrorKind::InvalidState,
            format!("{name} is a listener setting, and this configuration has no listener yet"),
        ));
    }
    Ok((
        info,
        SettingInfo {
            name: spelled,
            ..*info
        },
    ))
}

/// The error for a value of the wrong kind.
pub(crate) fn mismatch(info: &SettingInfo, value: &SettingValue) -> Error {
    Error::invalid(format!(
        "{} takes {}, not {}",
        info.name,
        info.kind.wants(),
        value.what()
    ))
}

/// The error for `add` on a setting that is not a list.
pub(crate) fn not_a_list(info: &SettingInfo) -> Error {
    Error::invalid(format!(
        "{} is not a list: set it instead of adding to it",
        info.name
    ))
}

/// The field a row of the table reaches (through `at`, its place), to read it; an error when it
/// is not there (a listener setting on a configuration without a listener).
pub(crate) fn field<C, T: ?Sized>(
    config: &mut C,
    at: impl FnOnce(&mut C) -> Result<&mut T>,
) -> Result<&mut T> {
    at(config)
}

/// The longest duration any setting or timeout accepts: one year (365 days).
///
/// Long enough for every real timeout or interval (a week-long idle timeout included; "never"
/// has its own spelling: `None`, or 0 in C), short enough that a deadline this far ahead fits
/// tokio's timer wheel (about 2.2 years) and can never overflow an instant.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The error for a duration setting `name` longer than [`MAX_DURATION`].
pub(crate) fn too_long(name: &str, secs: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "{name} must be at most {} seconds (one year), not {secs}",
        MAX_DURATION.as_secs()
    ))
}

/// The conversions from a [`SettingValue`] to a field's type, one per kind; a value of the
/// wrong kind is an error naming the setting.
pub(crate) mod convert {
    use super::{mismatch, Choice, SettingInfo, SettingValue};
    use crate::error::{Error, Result};
    use crate::pem::Pem;
    use crate::settings::{too_long, MAX_DURATION};
    use std::time::Duration;

    pub(crate) fn bool(info: &SettingInfo, value: SettingValue) -> Result<bool> {
        match value {
            SettingValue::Bool(b) => Ok(b),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn count(info: &SettingInfo, value: SettingValue) -> Result<usize> {
        match value {
            SettingValue::Int(n) => usize::try_from(n).map_err(|_| {
                Error::invalid(format!(
                    "{} of {n} is more than this machine can hold",
                    info.name
                ))
            }),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn optional_count(info: &SettingInfo, value: SettingValue) -> Result<Option<usize>> {
        match value {
            SettingValue::Unset => Ok(None),
            value => count(info, value).map(Some),
        }
    }

    /// Refuses a duration past [`MAX_DURATION`] at once: that check needs nothing else of
    /// the config (whether 0 is allowed is checked at start).
    pub(crate) fn duration(info: &SettingInfo, value: SettingValue) -> Result<Duration> {
        match value {
            SettingValue::Duration(d) if d > MAX_DURATION => Err(too_long(info.name, d.as_secs())),
            SettingValue::Duration(d) => Ok(d),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn optional_duration(
        info: &SettingInfo,
        value: SettingValue,
    ) -> Result<Option<Duration>> {
        match value {
            SettingValue::Unset => Ok(None),
            value => duration(info, value).map(Some),
        }
    }

    pub(crate) fn text(info: &SettingInfo, value: SettingValue) -> Result<String> {
        match value {
            SettingValue::Text(s) => Ok(s),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn texts(info: &SettingInfo, value: SettingValue) -> Result<Vec<String>> {
        match value {
            SettingValue::Texts(v) => Ok(v),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn pair(info: &SettingInfo, value: SettingValue) -> Result<(String, String)> {
        match value {
            SettingValue::Pair(name, value) => Ok((name, value)),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn pairs(info: &SettingInfo, value: SettingValue) -> Result<Vec<(String, String)>> {
        match value {
            SettingValue::Pairs(v) => Ok(v),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn pem(info: &SettingInfo, value: SettingValue) -> Result<Option<Pem>> {
        match value {
            SettingValue::Pem(pem) => Ok(Some(pem)),
            SettingValue::Unset => Ok(None),
            other => Err(mismatch(info, &other)),
        }
    }

    pub(crate) fn choice<T: Choice>(info: &SettingInfo, value: SettingValue) -> Result<T> {
        let name = text(info, value)?;
        T::NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| T::ALL.get(i))
            .copied()
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{} must be {}, not {name:?}",
                    info.name,
                    super::quoted(T::NAMES)
                ))
            })
    }
}

/// `'a', 'b' or 'c'`.
fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The settings table: one row per setting, `name: Scope, Kind, |config| place;` under its
/// one-line doc, where `place` is the field the setting sets (a `Custom` row has none), or
/// `name: Scope, Kind, set |config, value| { ... };` for one that sets more than a field; and
/// `name (alias other): ...` for a setting that answers to another name too. `check rule` after
/// the kind names the rule the value must meet that needs no other setting
/// (`fn(name, &value) -> Result<()>`): it runs as the setting is set by name (so C's setters and
/// Python's keywords refuse a bad value at once, naming the setting and the value), and, for a
/// row with a place, again in `Config::validate` on the value the field holds (a Rust program
/// sets fields). Makes `SETTINGS`, `Config::set`/`Config::add`, `Config::check_each_setting`
/// and `SettingNames::note`. Used once, in `config.rs`.
macro_rules! settings {
    ($(
        #[doc = $doc:literal]
        $name:ident $((alias $($alias:ident),+))?: $scope:ident, $kind:ident $(($choice:ty))?
            $(, check $check:path)?
            $(, |$c:ident| $place:expr)? $(, set |$sc:ident, $sv:ident| $set:block)?;
    )*) => {
        /// Every setting of [`Config`], in the order the documentation gives them: its name,
        /// kind, scope and one-line doc. [`Config::set`] and [`Config::add`] take these names;
        /// the C API's generic setters and the Python package's keywords are these names too.
        pub static SETTINGS: &[$crate::settings::SettingInfo] = &[$(
            $crate::settings::SettingInfo {
                name: stringify!($name),
                aliases: &[$($(stringify!($alias)),+)?],
                kind: settings!(@kind $kind $(($choice))?),
                scope: $crate::settings::SettingScope::$scope,
                doc: $doc.trim_ascii(),
            },
        )*];

        impl Config {
            /// Sets the setting `name` of [`SETTINGS`] to `value`, of the kind the setting
            /// takes (a list or pairs are replaced). Errors: an unknown name, a value of
            /// another kind, a custom setting (set its fields), a listener setting without a
            /// listener (`InvalidState`), a value that breaks the setting's own rule (naming the
            /// setting and the value; nothing is kept). Rules across settings are checked by
            /// [`Config::validate`].
            pub fn set(
                &mut self,
                name: &str,
                value: $crate::settings::SettingValue,
            ) -> $crate::error::Result<()> {
                use $crate::settings::convert;
                let (row, info) =
                    $crate::settings::settable(SETTINGS, name, self.listener.is_some())?;
                let (info, config) = (&info, self);
                match row.name {
                    $(stringify!($name) => {
                        settings!(
                            @set config, info, value, $kind $(($choice))? $(, check $check)?
                                $(, |$c| $place)? $(, set |$sc, $sv| $set)?
                        )
                    })*
                    _ => Err($crate::settings::mismatch(info, &value)),
                }
            }

            /// Adds one item to the list setting `name` of [`SETTINGS`]: a
            /// [`SettingValue::Text`](crate::SettingValue::Text) to a `TextList`, a
            /// [`SettingValue::Pair`](crate::SettingValue::Pair) to `Pairs`. Errors as
            /// [`Config::set`], and a setting that is not a list.
            pub fn add(
                &mut self,
                name: &str,
                item: $crate::settings::SettingValue,
            ) -> $crate::error::Result<()> {
                use $crate::settings::convert;
                let (row, info) =
                    $crate::settings::settable(SETTINGS, name, self.listener.is_some())?;
                let (info, config) = (&info, self);
                match row.name {
                    $(stringify!($name) => {
                        settings!(
                            @add config, info, item, $kind $(, check $check)?
                                $(, |$c| $place)? $(, set |$sc, $sv| $set)?
                        )
                    })*
                    _ => Err($crate::settings::not_a_list(info)),
                }
            }

            /// Runs the `check` rule of every row that has one and a field, on the value the
            /// field holds (this configuration cloned: the rows reach their fields mutably); a
            /// listener row without a listener is skipped. Part of [`Config::validate`].
            fn check_each_setting(&self) -> $crate::error::Result<()> {
                let mut copy = self.clone();
                $(settings!(@validate copy, $name $(, check $check)? $(, |$c| $place)?);)*
                Ok(())
            }
        }

        impl $crate::settings::SettingNames {
            /// Notes that a setting of [`SETTINGS`] was given as `name`: `InvalidArgument`
            /// naming both names when the same setting was given under another of its names
            /// (its name and an alias) before. A name no setting answers to passes.
            pub fn note(&mut self, name: &str) -> $crate::error::Result<()> {
                if let Some(given) = self.check_in(SETTINGS, name)? {
                    self.record(given);
                }
                Ok(())
            }

            /// [`SettingNames::note`] without noting: whether `name` may be given now (a
            /// binding checks, sets, then notes, so that a set that fails notes nothing).
            pub fn check(&self, name: &str) -> $crate::error::Result<()> {
                self.check_in(SETTINGS, name).map(drop)
            }
        }
    };

    (@kind Choice($choice:ty)) => {
        $crate::settings::SettingKind::Choice(
            <$choice as $crate::settings::Choice>::NAMES,
        )
    };
    (@kind $kind:ident) => { $crate::settings::SettingKind::$kind };

    (@set $config:ident, $info:ident, $value:ident, Custom) => {
        Err($crate::settings::mismatch($info, &$value))
    };
    (@set $config:ident, $info:ident, $value:ident, $kind:ident $(($choice:ty))?
        $(, check $check:path)?, |$c:ident| $place:expr) => {{
        let value = settings!(@convert $kind $(($choice))?, $info, $value)?;
        $($check($info.name, &value)?;)?
        let $c = $config;
        $place = value;
        Ok(())
    }};
    (@set $config:ident, $info:ident, $value:ident, $kind:ident $(($choice:ty))?
        $(, check $check:path)?, set |$c:ident, $v:ident| $set:block) => {{
        let $v = settings!(@convert $kind $(($choice))?, $info, $value)?;
        $($check($info.name, &$v)?;)?
        let $c = $config;
        $set
        Ok(())
    }};

    (@validate $copy:ident, $name:ident, check $check:path, |$c:ident| $place:expr) => {
        if let Ok(value) = $crate::settings::field(&mut $copy, |$c| Ok(&mut $place)) {
            $check(stringify!($name), value)?;
        }
    };
    (@validate $copy:ident, $name:ident $(, check $check:path)? $(, |$c:ident| $place:expr)?) => {};

    (@convert Bool, $info:ident, $value:ident) => { convert::bool($info, $value) };
    (@convert Count, $info:ident, $value:ident) => { convert::count($info, $value) };
    (@convert Bytes, $info:ident, $value:ident) => { convert::count($info, $value) };
    (@convert OptionalCount, $info:ident, $value:ident) => { convert::optional_count($info, $value) };
    (@convert Duration, $info:ident, $value:ident) => { convert::duration($info, $value) };
    (@convert OptionalDuration, $info:ident, $value:ident) => {
        convert::optional_duration($info, $value)
    };
    (@convert Text, $info:ident, $value:ident) => { convert::text($info, $value) };
    (@convert TextList, $info:ident, $value:ident) => { convert::texts($info, $value) };
    (@convert Pairs, $info:ident, $value:ident) => { convert::pairs($info, $value) };
    (@convert Pem, $info:ident, $value:ident) => { convert::pem($info, $value) };
    (@convert Choice($choice:ty), $info:ident, $value:ident) => {
        convert::choice::<$choice>($info, $value)
    };

    (@add $config:ident, $info:ident, $item:ident, TextList $(, check $check:path)?,
        |$c:ident| $place:expr) => {{
        let item = convert::text($info, $item)?;
        $($check($info.name, std::slice::from_ref(&item))?;)?
        let $c = $config;
        $place.push(item);
        Ok(())
    }};
    (@add $config:ident, $info:ident, $item:ident, Pairs $(, check $check:path)?,
        |$c:ident| $place:expr) => {{
        let item = convert::pair($info, $item)?;
        $($check($info.name, std::slice::from_ref(&item))?;)?
        let $c = $config;
        $place.push(item);
        Ok(())
    }};
    (@add $config:ident, $info:ident, $item:ident, $kind:ident $(, check $check:path)?
        $(, |$c:ident| $place:expr)? $(, set |$sc:ident, $sv:ident| $set:block)?) => {{
        let _ = ($config, $item);
        Err($crate::settings::not_a_list($info))
    }};
}

pub(crate) use settings;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_read_as_a_list() {
        assert_eq!(quoted(&["a"]), "'a'");
        assert_eq!(quoted(&["a", "b", "c"]), "'a', 'b' or 'c'");
    }
}
