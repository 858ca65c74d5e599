//! The arguments of `#[gort::main]` and `#[gort::test]`, parsed into a
//! [`Config`], and the `Builder` expression a `Config` stands for.
//!
//! `procs = N` is gort's own name for Go's `GOMAXPROCS`. `flavor`,
//! `worker_threads`, `start_paused` and `crate` are tokio's, accepted with
//! tokio's meaning so that moving a program from tokio to gort is a change of
//! imports. Every misuse is a compile error with the span of the offending
//! argument; all of them are reported at once, not one per build.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, Meta, Token};

/// Which attribute is expanding; `main` and `test` differ in their defaults.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// The attribute as users write it, for error messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[gort::main]",
            Kind::Test => "#[gort::test]",
        }
    }
}

/// The accepted argument names, as error messages list them.
const ACCEPTED: &str = "`procs`, `worker_threads`, `flavor`, `start_paused`, `crate`";

/// tokio's runtime flavors, mapped onto gort's `Builder` constructors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Flavor {
    /// `Builder::new_current_thread()`: one P.
    CurrentThread,
    /// `Builder::new_multi_thread()`.
    MultiThread,
}

/// What the arguments asked for. `None` everywhere is "no arguments".
#[derive(Default)]
pub(crate) struct Config {
    flavor: Option<Flavor>,
    /// `procs` or its alias `worker_threads`; never 0. With
    /// `Flavor::CurrentThread` it is 1, the only value that flavor allows.
    procs: Option<usize>,
    start_paused: Option<bool>,
    /// `crate = "path"`: where the `gort` facade is; `::gort` when absent.
    crate_path: Option<syn::Path>,
}

impl Config {
    /// Parses the attribute's arguments (`procs = 4, flavor = "multi_thread"`).
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Config> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
        let mut errors = Errors::default();
        let mut config = Config::default();
        // The span and spelling of the argument that set each field, to
        // report duplicates and conflicts where the user wrote them.
        let mut procs_arg: Option<(Span, String)> = None;
        let mut flavor_span: Option<Span> = None;
        let mut start_paused_span: Option<Span> = None;
        let mut crate_span: Option<Span> = None;

        for meta in metas {
            let nv = match meta {
                Meta::NameValue(nv) => nv,
                Meta::Path(path) => {
                    let name = path_name(&path);
                    let msg = match value_example(&name) {
                        Some(example) => format!("`{name}` needs a value, e.g. `{example}`"),
                        None => unknown(kind, &name),
                    };
                    errors.push(syn::Error::new_spanned(path, msg));
                    continue;
                }
                Meta::List(list) => {
                    let name = path_name(&list.path);
                    let msg = match value_example(&name) {
                        Some(example) => format!("write `{example}`, not `{name}(..)`"),
                        None => unknown(kind, &name),
                    };
                    errors.push(syn::Error::new_spanned(list, msg));
                    continue;
                }
            };
            let name = path_name(&nv.path);
            let value = ungroup(&nv.value);
            let span = syn::spanned::Spanned::span(&nv);
            match name.as_str() {
                "procs" | "worker_threads" => {
                    if let Some((_, first)) = &procs_arg {
                        let msg = if *first == name {
                            format!("`{name}` is given twice")
                        } else {
                            format!("`worker_threads` is an alias of `procs`; give only one of `{first}` and `{name}`")
                        };
                        errors.push(syn::Error::new(span, msg));
                        continue;
                    }
                    procs_arg = Some((span, name.clone()));
                    match parse_procs(&name, value) {
                        Ok(n) => config.procs = Some(n),
                        Err(e) => errors.push(e),
                    }
                }
                "flavor" => {
                    if flavor_span.replace(span).is_some() {
                        errors.push(syn::Error::new(span, "`flavor` is given twice"));
                        continue;
                    }
                    match parse_flavor(value) {
                        Ok(f) => config.flavor = Some(f),
                        Err(e) => errors.push(e),
                    }
                }
                "start_paused" => {
                    if start_paused_span.replace(span).is_some() {
                        errors.push(syn::Error::new(span, "`start_paused` is given twice"));
                        continue;
                    }
                    match value {
                        Expr::Lit(syn::ExprLit {
                            lit: Lit::Bool(b), ..
                        }) => config.start_paused = Some(b.value),
                        other => errors.push(syn::Error::new_spanned(
                            other,
                            "`start_paused` takes `true` or `false`",
                        )),
                    }
                }
                "crate" => {
                    if crate_span.replace(span).is_some() {
                        errors.push(syn::Error::new(span, "`crate` is given twice"));
                        continue;
                    }
                    match parse_crate_path(value) {
                        Ok(p) => config.crate_path = Some(p),
                        Err(e) => errors.push(e),
                    }
                }
                _ => errors.push(syn::Error::new_spanned(&nv.path, unknown(kind, &name))),
            }
        }

        if let (Some(Flavor::CurrentThread), Some(n), Some((span, name))) =
            (config.flavor, config.procs, &procs_arg)
        {
            if n > 1 {
                errors.push(syn::Error::new(
                    *span,
                    format!(
                        "`flavor = \"current_thread\"` runs one P; `{name} = {n}` needs \
                         `flavor = \"multi_thread\"` or no `flavor`"
                    ),
                ));
            }
        }
        errors.finish()?;
        Ok(config)
    }

    /// The `Builder` expression, up to but not including `.build()`.
    ///
    /// - `flavor = "current_thread"` → `Builder::new_current_thread()`
    ///   (`procs = 1` with it is redundant and emits nothing);
    /// - `flavor = "multi_thread"` → `Builder::new_multi_thread()`;
    /// - no flavor but `procs = N` → `Builder::new()`;
    /// - nothing: `Builder::new()` for `main`, `Builder::new_current_thread()`
    ///   for `test`;
    ///
    /// then `.procs(N)` (except under `current_thread`) and
    /// `.start_paused(b)` when those arguments were given.
    pub(crate) fn builder(&self, kind: Kind) -> TokenStream {
        let krate = match &self.crate_path {
            Some(path) => path.to_token_stream(),
            None => quote!(::gort),
        };
        let constructor = match (self.flavor, self.procs, kind) {
            (Some(Flavor::CurrentThread), _, _) | (None, None, Kind::Test) => {
                quote!(new_current_thread)
            }
            (Some(Flavor::MultiThread), _, _) => quote!(new_multi_thread),
            (None, _, _) => quote!(new),
        };
        let mut builder = quote!(#krate::runtime::Builder::#constructor());
        if let Some(n) = self.procs {
            if self.flavor != Some(Flavor::CurrentThread) {
                let n = Literal::usize_unsuffixed(n);
                builder = quote!(#builder.procs(#n));
            }
        }
        if let Some(paused) = self.start_paused {
            builder = quote!(#builder.start_paused(#paused));
        }
        builder
    }
}

/// Several `syn::Error`s reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn path_name(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// How a known argument is written, for "needs a value" messages.
fn value_example(name: &str) -> Option<&'static str> {
    match name {
        "procs" => Some("procs = 4"),
        "worker_threads" => Some("worker_threads = 4"),
        "flavor" => Some("flavor = \"multi_thread\""),
        "start_paused" => Some("start_paused = true"),
        "crate" => Some("crate = \"gort\""),
        _ => None,
    }
}

fn unknown(kind: Kind, name: &str) -> String {
    format!(
        "unknown argument `{name}`; {} accepts {ACCEPTED}",
        kind.attribute()
    )
}

/// A literal passed through a `macro_rules!` fragment arrives wrapped in an
/// invisible group; look through it.
fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        other => other,
    }
}

fn parse_procs(name: &str, value: &Expr) -> syn::Result<usize> {
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format!("`{name}` takes an integer literal ≥ 1, e.g. `{name} = 4`"),
        ));
    };
    if int.base10_digits().starts_with('-') {
        return Err(syn::Error::new_spanned(
            int,
            format!("`{name}` takes an integer literal ≥ 1, e.g. `{name} = 4`"),
        ));
    }
    match int.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new_spanned(
            int,
            format!("`{name}` must be at least 1: the runtime needs one P to run the body"),
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(syn::Error::new_spanned(
            int,
            format!("`{name}` must fit a usize: {e}"),
        )),
    }
}

fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`flavor` takes a string: \"multi_thread\" or \"current_thread\"",
        ));
    };
    match s.value().as_str() {
        "multi_thread" => Ok(Flavor::MultiThread),
        "current_thread" => Ok(Flavor::CurrentThread),
        other => Err(syn::Error::new_spanned(
            s,
            format!("unknown flavor `{other}`; expected \"multi_thread\" or \"current_thread\""),
        )),
    }
}

fn parse_crate_path(value: &Expr) -> syn::Result<syn::Path> {
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`crate` takes the path of the gort crate as a string, e.g. `crate = \"gort\"`",
        ));
    };
    s.parse::<syn::Path>().map_err(|_| {
        syn::Error::new_spanned(s, format!("`crate = \"{}\"` is not a path", s.value()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(kind: Kind, args: TokenStream) -> String {
        match Config::parse(kind, args) {
            Ok(config) => config.builder(kind).to_string(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn error(kind: Kind, args: TokenStream) -> Vec<String> {
        match Config::parse(kind, args) {
            Ok(config) => panic!("expected an error, got {}", config.builder(kind)),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn same(tokens: TokenStream) -> String {
        tokens.to_string()
    }

    #[test]
    fn main_without_arguments_uses_the_builder_default() {
        assert_eq!(
            builder(Kind::Main, quote!()),
            same(quote!(::gort::runtime::Builder::new()))
        );
    }

    #[test]
    fn test_without_arguments_uses_current_thread() {
        assert_eq!(
            builder(Kind::Test, quote!()),
            same(quote!(::gort::runtime::Builder::new_current_thread()))
        );
    }

    #[test]
    fn procs_without_flavor_sets_procs_on_the_default_builder() {
        for kind in [Kind::Main, Kind::Test] {
            assert_eq!(
                builder(kind, quote!(procs = 4)),
                same(quote!(::gort::runtime::Builder::new().procs(4)))
            );
        }
    }

    #[test]
    fn worker_threads_is_an_alias_of_procs() {
        assert_eq!(
            builder(Kind::Test, quote!(worker_threads = 3)),
            same(quote!(::gort::runtime::Builder::new().procs(3)))
        );
    }

    #[test]
    fn multi_thread_flavor_uses_new_multi_thread() {
        assert_eq!(
            builder(
                Kind::Test,
                quote!(flavor = "multi_thread", worker_threads = 2)
            ),
            same(quote!(::gort::runtime::Builder::new_multi_thread().procs(2)))
        );
        assert_eq!(
            builder(Kind::Main, quote!(flavor = "multi_thread")),
            same(quote!(::gort::runtime::Builder::new_multi_thread()))
        );
    }

    #[test]
    fn current_thread_flavor_uses_new_current_thread_and_drops_procs_1() {
        assert_eq!(
            builder(Kind::Main, quote!(flavor = "current_thread", procs = 1)),
            same(quote!(::gort::runtime::Builder::new_current_thread()))
        );
    }

    #[test]
    fn start_paused_is_emitted_only_when_given() {
        assert_eq!(
            builder(Kind::Test, quote!(start_paused = true)),
            same(quote!(
                ::gort::runtime::Builder::new_current_thread().start_paused(true)
            ))
        );
        assert_eq!(
            builder(Kind::Main, quote!(procs = 2, start_paused = false)),
            same(quote!(::gort::runtime::Builder::new()
                .procs(2)
                .start_paused(false)))
        );
    }

    #[test]
    fn crate_renames_the_gort_path() {
        assert_eq!(
            builder(Kind::Main, quote!(crate = "my::gort")),
            same(quote!(my::gort::runtime::Builder::new()))
        );
    }

    #[test]
    fn literal_from_macro_rules_fragment_is_accepted() {
        let lit = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!(2));
        assert_eq!(
            builder(Kind::Main, quote!(procs = #lit)),
            same(quote!(::gort::runtime::Builder::new().procs(2)))
        );
    }

    #[test]
    fn unknown_argument_lists_the_accepted_ones() {
        assert_eq!(
            error(Kind::Main, quote!(threads = 2)),
            ["unknown argument `threads`; #[gort::main] accepts `procs`, `worker_threads`, `flavor`, `start_paused`, `crate`"]
        );
        assert_eq!(
            error(Kind::Test, quote!(multi_thread)),
            ["unknown argument `multi_thread`; #[gort::test] accepts `procs`, `worker_threads`, `flavor`, `start_paused`, `crate`"]
        );
    }

    #[test]
    fn known_argument_without_value_says_how_to_write_it() {
        assert_eq!(
            error(Kind::Main, quote!(procs)),
            ["`procs` needs a value, e.g. `procs = 4`"]
        );
        assert_eq!(
            error(Kind::Main, quote!(procs(4))),
            ["write `procs = 4`, not `procs(..)`"]
        );
    }

    #[test]
    fn procs_must_be_a_positive_integer_literal() {
        assert_eq!(
            error(Kind::Main, quote!(procs = 0)),
            ["`procs` must be at least 1: the runtime needs one P to run the body"]
        );
        assert_eq!(
            error(Kind::Main, quote!(worker_threads = "2")),
            ["`worker_threads` takes an integer literal ≥ 1, e.g. `worker_threads = 4`"]
        );
        assert_eq!(
            error(Kind::Main, quote!(procs = N)),
            ["`procs` takes an integer literal ≥ 1, e.g. `procs = 4`"]
        );
        assert_eq!(
            error(Kind::Main, quote!(procs = -1)),
            ["`procs` takes an integer literal ≥ 1, e.g. `procs = 4`"]
        );
        assert_eq!(
            error(Kind::Main, quote!(procs = 99999999999999999999999)),
            ["`procs` must fit a usize: number too large to fit in target type"]
        );
    }

    #[test]
    fn duplicate_arguments_are_errors() {
        assert_eq!(
            error(Kind::Main, quote!(procs = 2, procs = 3)),
            ["`procs` is given twice"]
        );
        assert_eq!(
            error(Kind::Main, quote!(procs = 2, worker_threads = 2)),
            ["`worker_threads` is an alias of `procs`; give only one of `procs` and `worker_threads`"]
        );
        assert_eq!(
            error(
                Kind::Main,
                quote!(flavor = "multi_thread", flavor = "multi_thread")
            ),
            ["`flavor` is given twice"]
        );
        assert_eq!(
            error(Kind::Test, quote!(start_paused = true, start_paused = true)),
            ["`start_paused` is given twice"]
        );
        assert_eq!(
            error(Kind::Test, quote!(crate = "gort", crate = "gort")),
            ["`crate` is given twice"]
        );
    }

    #[test]
    fn bad_flavor_is_an_error() {
        assert_eq!(
            error(Kind::Main, quote!(flavor = "local")),
            ["unknown flavor `local`; expected \"multi_thread\" or \"current_thread\""]
        );
        assert_eq!(
            error(Kind::Main, quote!(flavor = multi_thread)),
            ["`flavor` takes a string: \"multi_thread\" or \"current_thread\""]
        );
    }

    #[test]
    fn current_thread_with_more_than_one_proc_is_an_error() {
        assert_eq!(
            error(
                Kind::Main,
                quote!(flavor = "current_thread", worker_threads = 4)
            ),
            ["`flavor = \"current_thread\"` runs one P; `worker_threads = 4` needs `flavor = \"multi_thread\"` or no `flavor`"]
        );
    }

    #[test]
    fn bad_start_paused_and_crate_values_are_errors() {
        assert_eq!(
            error(Kind::Test, quote!(start_paused = "yes")),
            ["`start_paused` takes `true` or `false`"]
        );
        assert_eq!(
            error(Kind::Test, quote!(crate = "not a path")),
            ["`crate = \"not a path\"` is not a path"]
        );
        assert_eq!(
            error(Kind::Test, quote!(crate = gort)),
            ["`crate` takes the path of the gort crate as a string, e.g. `crate = \"gort\"`"]
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        assert_eq!(
            error(Kind::Main, quote!(procs = 0, flavor = "fast", speed = 1)).len(),
            3
        );
    }
}
