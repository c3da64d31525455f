//! Arbitrary bytes, cut into arbitrary chunks, through the frame decoder of both roles: it
//! must end every stream with a message, a need for more bytes, or a protocol violation —
//! never a panic, a hang or an allocation past the message limit — and the same bytes given
//! at once must decode to the same messages and the same violation (checking text as it
//! arrives, piece by piece, must agree with checking it whole). With permessage-deflate
//! negotiated (any window size, with or without context takeover), compressed frames are
//! inflated too, never past the message limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<Vec<u8>>, bool, u16, Option<(u8, bool)>)| {
    let (chunks, masked, limit, deflate) = input;
    let limit = usize::from(limit) + 1;
    let deflate = deflate.map(|(bits, takeover)| (8 + bits % 8, takeover));
    let pieces: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let whole = chunks.concat();
    assert_eq!(
        wsconnector::fuzzing::decode(&pieces, masked, limit, deflate),
        wsconnector::fuzzing::decode(&[&whole], masked, limit, deflate),
    );
});
