//! Stored descriptors are read from shared memory another process may have written:
//! decoding any bytes must return a descriptor or an error, never panic or run away; and a
//! descriptor that decodes encodes back to one equal to it, whose values check and decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmbus::message::Descriptor;

/// Values are only tried for types small enough to allocate.
const LARGEST_VALUE: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = Descriptor::decode(data) else {
        return;
    };
    let again = Descriptor::decode(&d.encode().expect("a decoded descriptor encodes"))
        .expect("an encoded descriptor decodes");
    assert_eq!(again, d);
    assert_eq!(again.render(), d.render());
    if d.size() <= LARGEST_VALUE {
        let filler = d.filler();
        d.validate(&filler).expect("filler is a valid value");
        let value = d.decode_value(&filler).expect("filler decodes");
        assert_eq!(d.encode_value(&value).expect("its value encodes"), filler);
    }
});
