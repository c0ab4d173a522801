//! [`include_idl!`](crate::include_idl): includes the Rust that `shmbus-codegen` generated
//! from IDL in a build script.

/// Includes the Rust generated from an IDL file by `shmbus_codegen::Builder` in the
/// crate's build script.
///
/// `include_idl!("robot")` expands to
/// `include!(concat!(env!("OUT_DIR"), "/robot.rs"))`: the builder writes one file per IDL
/// file it compiles, named after the IDL file (`idl/robot.idl` -> `$OUT_DIR/robot.rs`).
/// The generated file holds one `pub mod` per top-level IDL module (and the top-level
/// items), so it is usually included inside a module of its own:
///
/// ```ignore
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     shmbus_codegen::Builder::new().include("idl").compile(&["idl/robot.idl"])?;
///     Ok(())
/// }
///
/// // src/main.rs
/// mod idl {
///     shmbus::include_idl!("robot");
/// }
/// use idl::robot::msg::Pose;
/// ```
///
/// Generated paths between IDL modules are relative (`super::geometry::Point`), so the
/// file can be included at any depth.
#[macro_export]
macro_rules! include_idl {
    ($name:literal) => {
        ::core::include!(::core::concat!(::core::env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
