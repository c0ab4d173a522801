// `loan_recycled` hands out whatever bytes a chunk held: only for types valid for every bit
// pattern. A type with a string is refused by the trait bound, as a type error the editor
// shows, not after monomorphisation.
use shmbus::{FixedString, Node, Service, ShmMessage};

#[derive(ShmMessage, Default)]
#[repr(C)]
struct Labelled {
    value: u32,
    label: FixedString<8>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().create()?;
    let service = Service::publish_subscribe::<Labelled>(&node, "labelled").open_or_create()?;
    let publisher = service.publisher().create()?;
    let _sample = publisher.loan_recycled()?;
    Ok(())
}
