//! Prints which Python the embedded interpreter is: `sys.version`, `sys.prefix`,
//! `sys.executable`, and whether each module named on the command line imports.
//!
//! `cargo run --example python_info -- some_module` (see docs/python.md).
use pyo3::prelude::*;

fn main() {
    if let Err(error) = torsion::wsgi::start_interpreter() {
        eprintln!("{error}");
        std::process::exit(1);
    }
    let modules: Vec<String> = std::env::args().skip(1).collect();
    let result = Python::attach(|py| -> PyResult<()> {
        let sys = py.import("sys")?;
        for name in ["version", "prefix", "base_prefix", "executable"] {
            println!("sys.{name} = {}", sys.getattr(name)?);
        }
        for module in &modules {
            let outcome = match py.import(module.as_str()) {
                Ok(imported) => format!("imports from {}", imported.getattr("__file__")?),
                Err(error) => format!("does not import: {error}"),
            };
            println!("{module} {outcome}");
        }
        Ok(())
    });
    if let Err(error) = result {
        eprintln!("{error}");
        std::process::exit(1);
    }
}
