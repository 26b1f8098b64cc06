//! The `torsion` command.

fn main() -> std::process::ExitCode {
    torsion::cli::main()
}
