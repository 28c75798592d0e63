//! Compiles the `.proto` files with protox (pure Rust), so no system `protoc` is needed. The admin service's
//! descriptor set is also written out, for server reflection.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["veloera/control/v1/control.proto", "veloera/admin/v1/admin.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let descriptors = protox::compile(protos, ["."])?;
    let admin = protox::compile(["veloera/admin/v1/admin.proto"], ["."])?;
    // A build script learns its output directory from the environment only; there is no Config to read it.
    #[allow(clippy::disallowed_methods)]
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("admin_descriptor.bin"), admin.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
