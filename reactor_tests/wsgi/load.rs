//! Loading applications by name, and the one-line errors when that fails.

use torsion::wsgi::{LoadError, WsgiApp};

use super::{Harness, PyModule, get};

const MODULE: &str = r#"
def application(environ, start_response):
    start_response('200 OK', [])
    return [b'dotted']

class Holder:
    @staticmethod
    def nested(environ, start_response):
        start_response('200 OK', [])
        return [b'nested']

not_callable = 42
"#;

fn load(module: &PyModule, spec: &str) -> Result<WsgiApp, LoadError> {
    WsgiApp::load_with_paths(spec, [module.dir.path()])
}

/// `module.attr`, `module:attr` and `module:attr.sub` all name an application.
#[test]
fn specs_name_applications() {
    let module = PyModule::new(MODULE);
    for spec in [
        format!("{}.application", module.name),
        format!("{}:application", module.name),
        format!("{}:Holder.nested", module.name),
    ] {
        let app = load(&module, &spec).unwrap_or_else(|error| panic!("{spec}: {error}"));
        assert_eq!(app.spec(), spec);
    }
    let harness = Harness::new(&MODULE.replace("def application", "def app"));
    assert_eq!(harness.text(get("/")), "dotted");
}

/// Each way loading can fail has its own error, printed as one line naming the fix.
#[test]
fn load_errors_are_typed_and_explain_the_fix() {
    let module = PyModule::new(MODULE);
    let name = &module.name;
    let error = load(&module, "torsion_no_such_module_xyz.app").expect_err("missing module");
    assert_eq!(
        error.to_string(),
        "no module named 'torsion_no_such_module_xyz' (run torsion from the directory that \
         contains it, or set PYTHONPATH)"
    );
    let error = load(&module, &format!("{name}.app")).expect_err("missing attribute");
    assert_eq!(
        error.to_string(),
        format!(
            "module '{name}' has no attribute 'app' (check the name after the module in the \
             application spec)"
        )
    );
    let error = load(&module, &format!("{name}:Holder.missing")).expect_err("missing nested");
    assert!(
        matches!(
            &error,
            LoadError::NoAttribute {
                owner_is_module: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("'{name}.Holder' has no attribute 'missing'"))
    );
    let error = load(&module, &format!("{name}.not_callable")).expect_err("not callable");
    assert_eq!(
        error.to_string(),
        format!("'{name}.not_callable' is not callable (name the WSGI application object itself)")
    );
    let error = load(&module, "nodots").expect_err("bad spec");
    assert!(matches!(error, LoadError::BadSpec { .. }), "{error:?}");
    assert!(!error.to_string().contains('\n'));
}

/// A module that raises on import, or imports something missing, is the module's fault.
#[test]
fn import_failures_blame_the_module() {
    let broken = PyModule::new("import torsion_absent_dependency_xyz\n");
    let error = load(&broken, &format!("{}.app", broken.name)).expect_err("broken import");
    match &error {
        LoadError::ImportFailed {
            message, traceback, ..
        } => {
            assert_eq!(
                message,
                "ModuleNotFoundError: No module named 'torsion_absent_dependency_xyz'"
            );
            assert!(traceback.contains("Traceback"), "{traceback}");
        }
        other => panic!("expected ImportFailed, got {other:?}"),
    }
    let raising = PyModule::new("raise ValueError('bad config')\n");
    let error = load(&raising, &format!("{}.app", raising.name)).expect_err("raising import");
    assert!(
        error.to_string().contains("ValueError: bad config"),
        "{error}"
    );
    assert!(!error.to_string().contains('\n'));
}
