//! The static-file options of `torsion web`: `--path DIR` (as `twist web --path`), `--static
//! PREFIX=DIR` mounts beside a WSGI application, the options Twisted applies to served
//! directories (`--mime-type`, `--index`, `--ignore-ext`, `--allow-ignore-ext`), and
//! torsion's own (`--no-listing`, `--follow-symlinks`, `--no-precompressed`, `--gzip`).
//!
//! Tested by: reactor_tests/static_files/cli.rs

use std::path::PathBuf;
use std::rc::Rc;

use clap::Args;

use crate::static_files::{DEFAULT_INDEX_NAMES, DEFAULT_TYPE, File, FileOptions, MimeTypes};
use crate::web::{GzipResource, NoResource, Resource};

/// Options that serve files.
#[derive(Debug, Args)]
pub(crate) struct FileArgs {
    /// Serve the files under DIR (as `twist web --path`). Not with --wsgi: use --static to
    /// serve files beside an application.
    #[arg(long, value_name = "DIR", conflicts_with = "wsgi")]
    pub(crate) path: Option<PathBuf>,

    /// Serve DIR's files under the URL prefix PREFIX, everything else going to the --wsgi
    /// application: --static /static=./static. Repeatable.
    #[arg(long = "static", value_name = "PREFIX=DIR", value_parser = parse_mount)]
    pub(crate) mounts: Vec<(String, PathBuf)>,

    /// Content type of served files whose extension is unknown.
    #[arg(short = 'm', long, value_name = "TYPE", default_value = DEFAULT_TYPE, value_parser = parse_mime_type)]
    mime_type: String,

    /// A name tried for a directory's index file; repeatable, replacing the default list
    /// (index, index.html, index.htm).
    #[arg(short = 'i', long = "index", value_name = "NAME", value_parser = parse_index_name)]
    index: Vec<String>,

    /// An extension tried when a requested file is missing (--ignore-ext .html serves
    /// /about from about.html). Repeatable.
    #[arg(long = "ignore-ext", value_name = ".EXT", value_parser = parse_extension)]
    ignore_ext: Vec<String>,

    /// Try any extension when a requested file is missing (the first match in name order).
    #[arg(long)]
    allow_ignore_ext: bool,

    /// Answer 403 for directories without an index file instead of listing them.
    #[arg(long)]
    no_listing: bool,

    /// Follow symbolic links that lead outside the served directory (refused by default).
    #[arg(long)]
    follow_symlinks: bool,

    /// Do not serve NAME.br / NAME.gz in place of NAME to clients that accept them.
    #[arg(long)]
    no_precompressed: bool,

    /// Compress responses with gzip for clients that accept it (see docs/static.md for the
    /// BREACH caveat over TLS).
    #[arg(long)]
    gzip: bool,
}

impl FileArgs {
    /// Whether anything here serves files.
    pub(crate) fn serves_files(&self) -> bool {
        self.path.is_some() || !self.mounts.is_empty()
    }

    fn file_options(&self) -> FileOptions {
        let mut ignored = self.ignore_ext.clone();
        if self.allow_ignore_ext {
            ignored.push("*".into());
        }
        FileOptions {
            default_type: self.mime_type.clone(),
            index_names: if self.index.is_empty() {
                DEFAULT_INDEX_NAMES.iter().map(|n| n.to_string()).collect()
            } else {
                self.index.clone()
            },
            directory_listing: !self.no_listing,
            ignored_extensions: ignored,
            follow_symlinks: self.follow_symlinks,
            precompressed: !self.no_precompressed,
            mime_types: Rc::new(MimeTypes::system()),
        }
    }

    /// The root resource: `app` (or the `--path` directory) behind any `--static` mounts,
    /// wrapped for gzip when asked. Fails with one line naming a directory that cannot be
    /// served.
    pub(crate) fn root(&self, app: Option<Rc<dyn Resource>>) -> Result<Rc<dyn Resource>, String> {
        let options = self.file_options();
        let mut root: Rc<dyn Resource> = match (&self.path, app) {
            (Some(path), _) => Rc::new(
                File::new(path, options.clone()).map_err(|error| format!("--path: {error}"))?,
            ),
            (None, Some(app)) => app,
            (None, None) => Rc::new(NoResource),
        };
        if !self.mounts.is_empty() {
            let mut mounts = crate::static_files::StaticMounts::new(root);
            for (prefix, directory) in &self.mounts {
                let file = File::new(directory, options.clone())
                    .map_err(|error| format!("--static {prefix}: {error}"))?;
                mounts.mount(prefix, file);
            }
            root = Rc::new(mounts);
        }
        if self.gzip {
            root = Rc::new(GzipResource::new(root));
        }
        Ok(root)
    }
}

fn parse_mount(text: &str) -> Result<(String, PathBuf), String> {
    let Some((prefix, directory)) = text.split_once('=') else {
        return Err(format!(
            "{text:?} is not PREFIX=DIR (for example /static=./static)"
        ));
    };
    if !prefix.starts_with('/') || prefix.trim_matches('/').is_empty() {
        return Err(format!(
            "the prefix {prefix:?} must start with / and name a path (for example /static)"
        ));
    }
    if directory.is_empty() {
        return Err(format!("{text:?} names no directory after ="));
    }
    Ok((prefix.to_string(), PathBuf::from(directory)))
}

fn parse_mime_type(text: &str) -> Result<String, String> {
    let valid = text
        .split_once('/')
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a content type (for example text/plain)"
        ))
    }
}

fn parse_index_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text == "." || text == ".." || text.contains(['/', '\\', '\0']) {
        return Err(format!(
            "{text:?} is not a file name (for example index.html)"
        ));
    }
    Ok(text.to_string())
}

fn parse_extension(text: &str) -> Result<String, String> {
    if text.len() < 2 || !text.starts_with('.') || text.contains(['/', '\\', '\0']) {
        return Err(format!(
            "{text:?} is not an extension with its dot (for example .html)"
        ));
    }
    Ok(text.to_string())
}
