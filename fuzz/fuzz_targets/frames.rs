//! Arbitrary bytes, cut into arbitrary chunks, through the frame decoder of both roles: it
//! must end every stream with a message, a need for more bytes, or a protocol violation —
//! never a panic, a hang or an allocation past the message limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<Vec<u8>>, bool, u16)| {
    let (chunks, masked, limit) = input;
    let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    wsconnector::fuzzing::decode(&chunks, masked, usize::from(limit) + 1);
});
