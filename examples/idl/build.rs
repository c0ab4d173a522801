//! Generates Rust from `idl/robot.idl` into `OUT_DIR` (see `shmbus_codegen::Builder`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    shmbus_codegen::Builder::new()
        .include("idl")
        .compile(&["idl/robot.idl"])?;
    Ok(())
}
