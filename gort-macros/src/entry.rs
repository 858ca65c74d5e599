//! The rewrite shared by `#[gort::main]` and `#[gort::test]`: an `async fn`
//! becomes a plain `fn` that builds a runtime and blocks on its body.
//!
//! ```text
//! #[attrs] vis async fn name(params) -> R { body }
//! ```
//! becomes
//! ```text
//! #[attrs] [#[::core::prelude::v1::test]] vis fn name(params) -> R {
//!     let body = async move { body };
//!     let body = ::core::pin::pin!(body);
//!     let body: Pin<&mut dyn Future<Output = R>> = body;
//!     let runtime = match <Builder expression>.build() {
//!         Ok(runtime) => runtime,
//!         Err(error) => panic!("failed to build the gort runtime: {}", error),
//!     };
//!     runtime.block_on(body)
//! }
//! ```
//!
//! - The body runs inside an `async move` block, so `return` and `?` in it
//!   leave the block with the function's return type, and parameters (of a
//!   function not named `main`) are moved in.
//! - The body is pinned and coerced to `Pin<&mut dyn Future<Output = R>>`,
//!   as tokio does for tests: a body whose value does not match `R` is
//!   reported as exactly that, at the body's last statement, and every test
//!   shares one `block_on` instantiation instead of one per test. When `R`
//!   cannot be named in a `let` (`-> impl Trait`, `-> !`) this step is left
//!   out.
//! - `body`, `runtime` and `error` are `Span::mixed_site()` identifiers, so
//!   they can neither capture nor shadow the user's names.
//! - When the attribute is misused, the function is still emitted (with the
//!   default `Builder`, and without `#[test]`) next to the errors, so the user
//!   sees our message, not a cascade of "main function not found".

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{parse_quote, Attribute, Ident, ItemFn, ReturnType, Type};

use crate::config::{Config, Errors, Kind};

/// Expands `#[gort::main]` (`kind == Main`) or `#[gort::test]` on `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            // Not a function: give it back untouched so rustc's own
            // diagnostics on it still appear, with ours.
            let mut out = item;
            out.extend(e.into_compile_error());
            return out;
        }
    };
    let mut errors = Errors::default();
    check_signature(kind, &func, &mut errors);
    let config = Config::parse(kind, args).unwrap_or_else(|e| {
        errors.push(e);
        Config::default()
    });
    match errors.finish() {
        Ok(()) => rewrite(kind, func, &config, true),
        Err(e) => {
            let mut out = rewrite(kind, func, &config, false);
            out.extend(e.into_compile_error());
            out
        }
    }
}

fn check_signature(kind: Kind, func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if !sig.inputs.is_empty() {
        match kind {
            Kind::Main if sig.ident == "main" => errors.push(syn::Error::new_spanned(
                &sig.inputs,
                "`main` cannot take parameters: the program's entry point is called with none",
            )),
            Kind::Main => {}
            Kind::Test => errors.push(syn::Error::new_spanned(
                &sig.inputs,
                "a #[gort::test] function cannot take parameters: the test harness calls it with none",
            )),
        }
    }
    if kind == Kind::Test {
        if let Some(attr) = func.attrs.iter().find(|a| is_test_attribute(a)) {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[gort::test] already adds #[test]; remove this one",
            ));
        }
    }
}

/// `#[test]`, `#[core::prelude::v1::test]`, `#[::std::prelude::rust_2021::test]`, ...
fn is_test_attribute(attr: &Attribute) -> bool {
    let syn::Meta::Path(path) = &attr.meta else {
        return false;
    };
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [test] => path.leading_colon.is_none() && test == "test",
        [root, prelude, _, test] => {
            (root == "core" || root == "std") && prelude == "prelude" && test == "test"
        }
        _ => false,
    }
}

fn rewrite(kind: Kind, mut func: ItemFn, config: &Config, add_test_attr: bool) -> TokenStream {
    func.sig.asyncness = None;
    if kind == Kind::Test && add_test_attr {
        // After the user's attributes, as tokio does: attribute macros the
        // user wrote below #[gort::test] then still see #[test].
        func.attrs.push(parse_quote!(#[::core::prelude::v1::test]));
    }

    let body = Ident::new("body", Span::mixed_site());
    let runtime = Ident::new("runtime", Span::mixed_site());
    let error = Ident::new("error", Span::mixed_site());
    let block = &func.block;
    let pin = nameable_output(&func.sig.output).map(|output| {
        // A body of the wrong type fails this coercion; point the error at
        // the body's value (its last statement) rather than the attribute.
        let value_span = match func.block.stmts.last() {
            Some(last) => syn::spanned::Spanned::span(last),
            None => func.block.brace_token.span.close(),
        };
        let coerced = Ident::new("body", Span::mixed_site().located_at(value_span));
        quote! {
            let #body = ::core::pin::pin!(#body);
            let #body: ::core::pin::Pin<
                &mut dyn ::core::future::Future<Output = #output>,
            > = #coerced;
        }
    });
    let builder = config.builder(kind);

    let new_block: syn::Block = parse_quote! {{
        let #body = async move #block;
        #pin
        let #runtime = match #builder.build() {
            ::core::result::Result::Ok(#runtime) => #runtime,
            ::core::result::Result::Err(#error) => {
                ::core::panic!("failed to build the gort runtime: {}", #error)
            }
        };
        #runtime.block_on(#body)
    }};
    *func.block = new_block;
    func.into_token_stream()
}

/// The function's output type, when it can be written in a `let` type.
fn nameable_output(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) => {
            let never = matches!(**ty, Type::Never(_));
            let tokens = ty.to_token_stream();
            (!never && !mentions_impl(tokens.clone())).then_some(tokens)
        }
    }
}

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(kind: Kind, args: TokenStream, item: TokenStream) -> Vec<String> {
        let out = expand(kind, args, item).to_string();
        // Each syn error expands to `::core::compile_error! { "message" }`.
        out.split("compile_error")
            .skip(1)
            .map(|rest| {
                let start = rest.find('"').expect("message start") + 1;
                let end = start + rest[start..].find("\" }").expect("message end");
                rest[start..end].replace("\\\"", "\"")
            })
            .collect()
    }

    fn expanded(kind: Kind, args: TokenStream, item: TokenStream) -> ItemFn {
        let out = expand(kind, args, item);
        assert!(
            !out.to_string().contains("compile_error"),
            "unexpected error: {out}"
        );
        syn::parse2(out).expect("the expansion is one function")
    }

    #[test]
    fn main_keeps_attributes_visibility_and_return_type() {
        let func = expanded(
            Kind::Main,
            quote!(),
            quote! {
                #[inline(never)]
                pub(crate) async fn main() -> Result<(), Box<dyn std::error::Error>> { Ok(()) }
            },
        );
        assert!(func.sig.asyncness.is_none());
        assert_eq!(func.attrs.len(), 1);
        assert_eq!(func.vis.to_token_stream().to_string(), "pub (crate)");
        assert_eq!(
            func.sig
                .output
                .to_token_stream()
                .to_string()
                .replace(' ', ""),
            "->Result<(),Box<dynstd::error::Error>>"
        );
    }

    #[test]
    fn body_runs_in_async_move_block_under_block_on() {
        let out = expanded(
            Kind::Main,
            quote!(procs = 2),
            quote!(
                async fn main() {
                    f().await
                }
            ),
        )
        .block
        .to_token_stream()
        .to_string();
        assert!(out.contains(&quote!(let body = async move { f().await };).to_string()));
        assert!(out.contains(&quote!(::gort::runtime::Builder::new().procs(2).build()).to_string()));
        assert!(out.contains("\"failed to build the gort runtime: {}\""));
        assert!(out.ends_with(&format!("{} }}", quote!(runtime.block_on(body)))));
    }

    #[test]
    fn test_adds_test_attribute_after_the_users_attributes() {
        let func = expanded(
            Kind::Test,
            quote!(),
            quote! {
                #[should_panic(expected = "boom")]
                #[ignore]
                async fn t() { panic!("boom") }
            },
        );
        let attrs: Vec<String> = func
            .attrs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect();
        assert_eq!(
            attrs,
            [
                quote!(#[should_panic(expected = "boom")]).to_string(),
                quote!(#[ignore]).to_string(),
                quote!(#[::core::prelude::v1::test]).to_string(),
            ]
        );
    }

    #[test]
    fn output_is_pinned_as_dyn_future_only_when_nameable() {
        let pinned = |item| {
            expanded(Kind::Main, quote!(), item)
                .block
                .to_token_stream()
                .to_string()
                .contains("dyn :: core :: future :: Future")
        };
        assert!(pinned(quote!(
            async fn main() {}
        )));
        assert!(pinned(quote!(
            async fn main() -> Result<(), String> {
                Ok(())
            }
        )));
        assert!(!pinned(quote!(
            async fn main() -> impl std::process::Termination {}
        )));
        assert!(!pinned(quote!(
            async fn run() -> Vec<impl Sized> {
                vec![]
            }
        )));
        assert!(!pinned(quote!(
            async fn main() -> ! {
                loop {}
            }
        )));
    }

    #[test]
    fn inner_attributes_stay_inner_attributes_of_the_function() {
        let out = expand(
            Kind::Test,
            quote!(),
            quote!(
                async fn t() {
                    #![allow(unused)]
                    let x = 1;
                }
            ),
        )
        .to_string();
        assert!(out.contains(&format!(
            "fn t () {{ {} let body",
            quote!(#![allow(unused)])
        )));
    }

    #[test]
    fn non_async_function_is_an_error() {
        assert_eq!(
            errors(
                Kind::Main,
                quote!(),
                quote!(
                    fn main() {}
                )
            ),
            ["the `async` keyword is missing from the function declaration"]
        );
        assert_eq!(
            errors(
                Kind::Test,
                quote!(),
                quote!(
                    fn t() {}
                )
            ),
            ["the `async` keyword is missing from the function declaration"]
        );
    }

    #[test]
    fn main_with_parameters_is_an_error() {
        assert_eq!(
            errors(
                Kind::Main,
                quote!(),
                quote!(
                    async fn main(n: u32) {}
                )
            ),
            ["`main` cannot take parameters: the program's entry point is called with none"]
        );
    }

    #[test]
    fn main_attribute_on_other_function_may_take_parameters() {
        let func = expanded(
            Kind::Main,
            quote!(),
            quote!(
                async fn add(a: u32, b: u32) -> u32 {
                    a + b
                }
            ),
        );
        assert_eq!(func.sig.inputs.len(), 2);
    }

    #[test]
    fn test_with_parameters_is_an_error() {
        assert_eq!(
            errors(Kind::Test, quote!(), quote!(async fn t(n: u32) {})),
            ["a #[gort::test] function cannot take parameters: the test harness calls it with none"]
        );
    }

    #[test]
    fn second_test_attribute_is_an_error() {
        for attr in [
            quote!(#[test]),
            quote!(#[::core::prelude::v1::test]),
            quote!(#[std::prelude::rust_2021::test]),
        ] {
            assert_eq!(
                errors(Kind::Test, quote!(), quote!(#attr async fn t() {})),
                ["#[gort::test] already adds #[test]; remove this one"]
            );
        }
        assert!(errors(
            Kind::Test,
            quote!(),
            quote!(
                #[my::test]
                async fn t() {}
            )
        )
        .is_empty());
    }

    #[test]
    fn misuse_still_emits_the_function_without_test_attribute() {
        let out = expand(
            Kind::Test,
            quote!(procs = 0),
            quote!(
                fn t() {}
            ),
        );
        let mut tokens = out.into_iter();
        let mut item = TokenStream::new();
        for tt in tokens.by_ref() {
            let is_body = matches!(&tt, TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Brace);
            item.extend([tt]);
            if is_body {
                break;
            }
        }
        let func: ItemFn = syn::parse2(item).expect("a function before the errors");
        assert!(func.attrs.is_empty());
        assert_eq!(
            errors(
                Kind::Test,
                quote!(procs = 0),
                quote!(
                    fn t() {}
                )
            ),
            [
                "the `async` keyword is missing from the function declaration",
                "`procs` must be at least 1: the runtime needs one P to run the body",
            ]
        );
    }

    #[test]
    fn non_function_item_is_returned_with_an_error() {
        let out = expand(
            Kind::Main,
            quote!(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(out.starts_with("struct S ;"));
        assert!(out.contains("compile_error"));
    }
}
