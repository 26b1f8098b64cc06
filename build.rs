//! Build script: ties the binary to the Python it is compiled against.
//!
//! pyo3 links `libpython3.X.so` by name, and the dynamic loader would otherwise pick whichever
//! copy its cache lists first (on Debian-based machines with a pyenv Python, the system one), so
//! the runtime library could differ from the headers and `sysconfig` pyo3 compiled against. This
//! script embeds the build interpreter's `LIBDIR` as a run path, and records that interpreter's
//! base executable and version so the bridge can point `sys.executable` at it (see
//! docs/python.md).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let config = pyo3_build_config::get();
    pyo3_build_config::add_libpython_rpath_link_args();
    let version = config.version();
    println!(
        "cargo:rustc-env=TORSION_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    // The installation's own interpreter, not a virtualenv's or a pyenv shim.
    let script = "import os, sysconfig\n\
                  print(os.path.join(sysconfig.get_config_var('BINDIR') or '', \
                  'python' + (sysconfig.get_config_var('VERSION') or '')))";
    let executable = config
        .run_python_script(script)
        .map(|out| out.trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=TORSION_PYTHON_EXECUTABLE={executable}");
}
