//! The negotiation of permessage-deflate (RFC 7692 section 7.1) in `Sec-WebSocket-Extensions`:
//! the client's offer, the server's choice among a request's offers (declining those the RFC
//! says to decline), and the client's check of the server's answer (refusing those the RFC
//! says to refuse).

use crate::protocol::handshake::is_token;

/// The extension's name in the headers.
const NAME: &str = "permessage-deflate";

/// The parameters of permessage-deflate (RFC 7692 section 7.1): those negotiated on a socket
/// ([`Socket::compression`](crate::Socket::compression)), or those an endpoint asks for
/// ([`Compression::preferred`](crate::Compression::preferred)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PerMessageDeflate {
    /// The server compresses each message on its own (no context kept between messages):
    /// less memory per socket, and one compressed frame a broadcast can share.
    pub server_no_context_takeover: bool,
    /// The client compresses each message on its own.
    pub client_no_context_takeover: bool,
    /// The base-2 logarithm of the server's compression window, 8-15; `None`: not stated (15).
    pub server_max_window_bits: Option<u8>,
    /// The base-2 logarithm of the client's compression window, 8-15; `None`: not stated (15).
    /// A client that prefers `None` offers the parameter without a value (it can keep to
    /// whatever the server asks).
    pub client_max_window_bits: Option<u8>,
}

/// The window sizes the RFC allows, as base-2 logarithms.
pub(crate) const WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;
/// The window a side compresses with when nothing limits it.
const MAX_BITS: u8 = 15;

impl PerMessageDeflate {
    /// The window the server compresses with: `server_max_window_bits`, 15 when not stated.
    pub fn server_window_bits(&self) -> u8 {
        self.server_max_window_bits.unwrap_or(MAX_BITS)
    }

    /// The window the client compresses with: `client_max_window_bits`, 15 when not stated.
    pub fn client_window_bits(&self) -> u8 {
        self.client_max_window_bits.unwrap_or(MAX_BITS)
    }

    /// The `Sec-WebSocket-Extensions` value that states these parameters, e.g.
    /// `permessage-deflate; server_no_context_takeover; client_max_window_bits=12`.
    pub fn header_value(&self) -> String {
        let mut value = NAME.to_owned();
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            value.push_str(&format!("; server_max_window_bits={bits}"));
        }
        if let Some(bits) = self.client_max_window_bits {
            value.push_str(&format!("; client_max_window_bits={bits}"));
        }
        value
    }
}

/// The offer a client sends for `preferred`: the parameters it asks for, and
/// `client_max_window_bits` always (with a value when it limits its own window), so that the
/// server may limit it.
pub(crate) fn client_offer(preferred: &PerMessageDeflate) -> String {
    let mut offer = PerMessageDeflate {
        client_max_window_bits: None,
        ..*preferred
    }
    .header_value();
    offer.push_str("; client_max_window_bits");
    if let Some(bits) = preferred.client_max_window_bits {
        offer.push_str(&format!("={bits}"));
    }
    offer
}

/// The server's choice among the offers in a request's `Sec-WebSocket-Extensions` values: the
/// first permessage-deflate offer it can accept, answered with what `preferred` asks for
/// within what the offer allows; `None` declines them all (a malformed header, or no offer the
/// RFC lets it accept).
pub(crate) fn accept_offer<'a>(
    values: impl IntoIterator<Item = &'a str>,
    preferred: &PerMessageDeflate,
) -> Option<PerMessageDeflate> {
    let offers = parse(values).ok()?;
    offers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(NAME))
        .find_map(|(_, params)| accept_one(params, preferred))
}

/// The answer to one offer, or `None` to decline it.
fn accept_one(params: &[Param], preferred: &PerMessageDeflate) -> Option<PerMessageDeflate> {
    let offer = Parameters::read(params).ok()?;
    // A window size in an offer must be stated (server_max_window_bits) and valid.
    let server_bits = match offer.server_max_window_bits {
        Some(Some(bits)) => Some(bits.min(preferred.server_window_bits())),
        Some(None) => return None,
        None => preferred.server_max_window_bits,
    };
    let client_bits = match offer.client_max_window_bits {
        Some(Some(bits)) => Some(bits.min(preferred.client_window_bits())),
        Some(None) => preferred.client_max_window_bits,
        // Not offered: the client may not be able to limit its window.
        None => None,
    };
    Some(PerMessageDeflate {
        server_no_context_takeover: offer.server_no_context_takeover
            || preferred.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || preferred.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}

/// The client's check of the server's `Sec-WebSocket-Extensions` values against its offer for
/// `preferred`: the negotiated parameters (`None` when the server declined), or why the
/// answer must fail the connection.
pub(crate) fn check_response<'a>(
    values: impl IntoIterator<Item = &'a str>,
    preferred: Option<&PerMessageDeflate>,
) -> Result<Option<PerMessageDeflate>, String> {
    let chosen =
        parse(values).map_err(|why| format!("a malformed Sec-WebSocket-Extensions: {why}"))?;
    let Some(preferred) = preferred else {
        return match chosen.first() {
            None => Ok(None),
            Some((name, _)) => Err(format!(
                "the server chose extension {name:?}, which was not offered"
            )),
        };
    };
    let params = match chosen.as_slice() {
        [] => return Ok(None),
        [(name, params)] if name.eq_ignore_ascii_case(NAME) => params,
        [(name, _)] => {
            return Err(format!(
                "the server chose extension {name:?}, which was not offered"
            ))
        }
        _ => return Err("the server chose more than one extension".into()),
    };
    let answer = Parameters::read(params)?;
    if preferred.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err("the server did not accept server_no_context_takeover".into());
    }
    let server_bits = match (
        preferred.server_max_window_bits,
        answer.server_max_window_bits,
    ) {
        (_, Some(None)) => return Err("server_max_window_bits without a value".into()),
        (Some(asked), Some(Some(bits))) if bits > asked => {
            return Err(format!(
                "server_max_window_bits={bits} is more than the {asked} offered"
            ))
        }
        (Some(_), None) => return Err("the server did not accept server_max_window_bits".into()),
        (_, Some(Some(bits))) => Some(bits),
        (None, None) => None,
    };
    let client_bits = match (
        preferred.client_max_window_bits,
        answer.client_max_window_bits,
    ) {
        (_, Some(None)) => return Err("client_max_window_bits without a value".into()),
        (Some(offered), Some(Some(bits))) if bits > offered => {
            return Err(format!(
                "client_max_window_bits={bits} is more than the {offered} offered"
            ))
        }
        (_, Some(Some(bits))) => Some(bits),
        // What the client offered to keep to, it keeps to.
        (offered, None) => offered,
    };
    Ok(Some(PerMessageDeflate {
        server_no_context_takeover: answer.server_no_context_takeover,
        client_no_context_takeover: answer.client_no_context_takeover
            || preferred.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}

/// A parameter of an extension: its name, and its value when it has one (unquoted).
type Param = (String, Option<String>);

/// The parameters of one permessage-deflate element, each given at most once; a window size is
/// `Some(None)` when given without a value.
#[derive(Default)]
struct Parameters {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Parameters {
    /// Reads the parameters: an unknown or repeated parameter, a value where none belongs or
    /// a window size that is not 8-15 (digits, no leading zero) is an error.
    fn read(params: &[Param]) -> Result<Self, String> {
        let mut read = Parameters::default();
        let mut seen = Vec::with_capacity(params.len());
        for (name, value) in params {
            let name = name.to_ascii_lowercase();
            if seen.contains(&name) {
                return Err(format!("{name} given twice"));
            }
            let flag = |value: &Option<String>| match value {
                None => Ok(true),
                Some(_) => Err(format!("{name} with a value")),
            };
            match name.as_str() {
                "server_no_context_takeover" => read.server_no_context_takeover = flag(value)?,
                "client_no_context_takeover" => read.client_no_context_takeover = flag(value)?,
                "server_max_window_bits" => {
                    read.server_max_window_bits = Some(window_bits(&name, value.as_deref())?)
                }
                "client_max_window_bits" => {
                    read.client_max_window_bits = Some(window_bits(&name, value.as_deref())?)
                }
                _ => return Err(format!("unknown parameter {name}")),
            }
            seen.push(name);
        }
        Ok(read)
    }
}

/// A window size's value: none, or 8-15 written without a leading zero.
fn window_bits(name: &str, value: Option<&str>) -> Result<Option<u8>, String> {
    let Some(value) = value else { return Ok(None) };
    match value.parse::<u8>() {
        Ok(bits)
            if WINDOW_BITS.contains(&bits)
                && value.bytes().all(|b| b.is_ascii_digit())
                && !value.starts_with('0') =>
        {
            Ok(Some(bits))
        }
        _ => Err(format!("{name}={value:?} is not 8-15")),
    }
}

/// Reads `Sec-WebSocket-Extensions` values (RFC 6455 section 9.1): a comma-separated list of
/// extensions, each a token and `;`-separated parameters, `name` or `name=value` with a token
/// or quoted-string value.
fn parse<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, Vec<Param>)>, String> {
    let mut extensions = Vec::new();
    for value in values {
        for element in split_unquoted(value, b',')? {
            let element = element.trim();
            if element.is_empty() {
                // Empty list elements are allowed (`a, , b`).
                continue;
            }
            let mut parts = split_unquoted(element, b';')?.into_iter();
            let name = parts.next().unwrap_or_default().trim();
            if !is_token(name) {
                return Err(format!("{name:?} is not an extension name"));
            }
            let mut params = Vec::new();
            for part in parts {
                let (param, value) = match part.split_once('=') {
                    Some((param, value)) => (param.trim(), Some(unquote(value.trim())?)),
                    None => (part.trim(), None),
                };
                if !is_token(param) {
                    return Err(format!("{param:?} is not a parameter name"));
                }
                params.push((param.to_owned(), value));
            }
            extensions.push((name.to_owned(), params));
        }
    }
    Ok(extensions)
}

/// `text` cut at each `separator` outside quoted strings.
fn split_unquoted(text: &str, separator: u8) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, byte) in text.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if byte == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("an unterminated quoted string".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// A parameter's value: a token, or a quoted string with its escapes undone.
fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return if is_token(value) {
            Ok(value.to_owned())
        } else {
            Err(format!("{value:?} is not a token"))
        };
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| format!("{value:?} is not a quoted string"))?;
    let mut unquoted = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => unquoted.extend(chars.next()),
            '"' => return Err(format!("{value:?} is not a quoted string")),
            c => unquoted.push(c),
        }
    }
    Ok(unquoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pmd(
        server_nct: bool,
        client_nct: bool,
        server: Option<u8>,
        client: Option<u8>,
    ) -> PerMessageDeflate {
        PerMessageDeflate {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server,
            client_max_window_bits: client,
        }
    }

    /// What a server with default preferences answers to the offers in one header.
    fn answer(offers: &str) -> Option<String> {
        answer_with(offers, &PerMessageDeflate::default())
    }

    fn answer_with(offers: &str, preferred: &PerMessageDeflate) -> Option<String> {
        accept_offer([offers], preferred).map(|p| p.header_value())
    }

    #[test]
    fn a_client_offers_what_it_prefers_and_always_the_client_window() {
        assert_eq!(
            client_offer(&PerMessageDeflate::default()),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(
            client_offer(&pmd(true, true, Some(10), Some(9))),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
    }

    /// The offers of RFC 7692 sections 5 and 7.1, answered as the RFC allows.
    #[test]
    fn a_server_accepts_the_first_offer_it_can() {
        let accepted = [
            ("permessage-deflate", "permessage-deflate"),
            ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            ),
            (
                "permessage-deflate;server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15",
            ),
            (
                "Permessage-Deflate; Client_Max_Window_Bits=\"12\"",
                "permessage-deflate; client_max_window_bits=12",
            ),
            // Section 5.2's example: the first offer that can be accepted wins.
            (
                "permessage-deflate; server_max_window_bits=10, permessage-deflate",
                "permessage-deflate; server_max_window_bits=10",
            ),
            ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"),
            // Declined offers, then one that is accepted.
            (
                "permessage-deflate; server_max_window_bits, permessage-deflate; client_no_context_takeover",
                "permessage-deflate; client_no_context_takeover",
            ),
        ];
        for (offer, want) in accepted {
            assert_eq!(answer(offer).as_deref(), Some(want), "{offer}");
        }
    }

    #[test]
    fn a_server_declines_the_offers_the_rfc_says_to_decline() {
        for offer in [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=09",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; unknown_parameter",
            "permessage-deflate; client_max_window_bits=\"10",
            "permessage-deflate; =10",
            "permessage deflate",
        ] {
            assert_eq!(answer(offer), None, "{offer}");
        }
    }

    #[test]
    fn a_server_asks_for_what_it_prefers_within_the_offer() {
        let preferred = pmd(true, true, Some(12), Some(11));
        let cases = [
            (
                "permessage-deflate",
                // No client window offered: the client may not be able to limit it.
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11",
            ),
            (
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
            ),
            (
                "permessage-deflate; server_max_window_bits=14; client_max_window_bits=15",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11",
            ),
        ];
        for (offer, want) in cases {
            assert_eq!(
                answer_with(offer, &preferred).as_deref(),
                Some(want),
                "{offer}"
            );
        }
    }

    fn check(
        response: &[&str],
        preferred: Option<PerMessageDeflate>,
    ) -> Result<Option<PerMessageDeflate>, String> {
        check_response(response.iter().copied(), preferred.as_ref())
    }

    #[test]
    fn a_client_takes_the_answers_the_rfc_allows() {
        let default = Some(PerMessageDeflate::default());
        assert_eq!(check(&[], default), Ok(None), "declined");
        assert_eq!(check(&[], None), Ok(None));
        assert_eq!(check(&["permessage-deflate"], default), Ok(default));
        assert_eq!(
            check(
                &["permessage-deflate; server_max_window_bits=10; client_max_window_bits=8"],
                default
            ),
            Ok(Some(pmd(false, false, Some(10), Some(8))))
        );
        assert_eq!(
            check(
                &["permessage-deflate; server_no_context_takeover", ""],
                default
            ),
            Ok(Some(pmd(true, false, None, None)))
        );
        let asked = Some(pmd(true, true, Some(10), Some(12)));
        assert_eq!(
            check(
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=9"],
                asked
            ),
            // What the client offered to keep to, it keeps to, stated or not.
            Ok(Some(pmd(true, true, Some(9), Some(12))))
        );
    }

    #[test]
    fn a_client_refuses_the_answers_the_rfc_says_to_refuse() {
        let default = Some(PerMessageDeflate::default());
        let asked = Some(pmd(true, false, Some(10), Some(12)));
        let refused: [(&[&str], Option<PerMessageDeflate>, &str); 13] = [
            (&["permessage-deflate"], None, "not offered"),
            (&["x-webkit-deflate-frame"], default, "not offered"),
            (&["permessage-deflate, permessage-deflate"], default, "more than one"),
            (&["permessage-deflate", "permessage-deflate"], default, "more than one"),
            (&["permessage-deflate; foo"], default, "unknown parameter"),
            (&["permessage-deflate; client_max_window_bits"], default, "without a value"),
            (&["permessage-deflate; server_max_window_bits"], default, "without a value"),
            (&["permessage-deflate; server_max_window_bits=16"], default, "is not 8-15"),
            (&["permessage-deflate; server_no_context_takeover=x"], default, "with a value"),
            (
                &["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"],
                default,
                "given twice",
            ),
            (&["permessage-deflate; server_max_window_bits=10"], asked, "server_no_context_takeover"),
            (
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=11"],
                asked,
                "more than the 10 offered",
            ),
            (
                &["permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13"],
                asked,
                "more than the 12 offered",
            ),
        ];
        for (response, offered, says) in refused {
            let why = check(response, offered).unwrap_err();
            assert!(why.contains(says), "{response:?}: {why}");
        }
        assert!(
            check(&["permessage-deflate; server_no_context_takeover"], asked)
                .unwrap_err()
                .contains("server_max_window_bits")
        );
    }
}
