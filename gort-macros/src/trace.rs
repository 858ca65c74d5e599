//! `#[derive(Trace)]`: both `Trace` methods forward to every field not
//! marked `#[gc(skip)]`, through one `match` so structs and enums share the
//! code, and every type parameter gets a `Trace` bound.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_quote, Data, DeriveInput, Fields, Path};

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let krate = crate_path(&input)?;
    let name = &input.ident;
    let mut generics = input.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(parse_quote!(#krate::gc::Trace));
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();

    let arms = match &input.data {
        Data::Struct(s) => vec![arm(quote!(Self), &s.fields)?],
        Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let vn = &v.ident;
                arm(quote!(Self::#vn), &v.fields)
            })
            .collect::<syn::Result<_>>()?,
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Trace)] does not support unions: the collector cannot know which field is live",
            ))
        }
    };
    let trace_arms = arms
        .iter()
        .map(|(pat, binds)| quote!(#pat => { #( #krate::gc::Trace::trace(#binds, tracer); )* }));
    let rooting_arms = arms
        .iter()
        .map(|(pat, binds)| quote!(#pat => { #( #krate::gc::Trace::rooting(#binds, rooting); )* }));
    Ok(quote! {
        // SAFETY: both methods visit the same fields: every field not
        // marked #[gc(skip)].
        #[automatically_derived]
        unsafe impl #impl_g #krate::gc::Trace for #name #ty_g #where_c {
            #[inline]
            #[allow(unused_variables)]
            fn trace(&self, tracer: &mut #krate::gc::Tracer) {
                match self { #(#trace_arms)* }
            }
            #[inline]
            #[allow(unused_variables)]
            fn rooting(&self, rooting: #krate::gc::Rooting) {
                match self { #(#rooting_arms)* }
            }
        }
    })
}

/// A braced pattern binding the traced fields (`Self::V { 0: f0, name: f1, .. }`
/// works for named, tuple and unit shapes alike) and the bindings.
fn arm(path: TokenStream, fields: &Fields) -> syn::Result<(TokenStream, Vec<syn::Ident>)> {
    let mut pats = Vec::new();
    let mut binds = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if skipped(f)? {
            continue;
        }
        let bind = format_ident!("__gc_field{}", i);
        let member = match &f.ident {
            Some(id) => quote!(#id),
            None => {
                let idx = syn::Index::from(i);
                quote!(#idx)
            }
        };
        pats.push(quote!(#member: #bind));
        binds.push(bind);
    }
    Ok((quote!(#path { #(#pats,)* .. }), binds))
}

fn skipped(f: &syn::Field) -> syn::Result<bool> {
    let mut skip = false;
    for attr in f.attrs.iter().filter(|a| a.path().is_ident("gc")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(m.error("unknown #[gc] field option; expected `skip`"))
            }
        })?;
    }
    Ok(skip)
}

/// `#[gc(crate = "path")]` on the type, else `::gort`.
fn crate_path(input: &DeriveInput) -> syn::Result<Path> {
    let mut path: Path = parse_quote!(::gort);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("gc")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("crate") {
                let s: syn::LitStr = m.value()?.parse()?;
                path = s.parse()?;
                Ok(())
            } else {
                Err(m.error("unknown #[gc] option; expected `crate = \"path\"`"))
            }
        })?;
    }
    Ok(path)
}
