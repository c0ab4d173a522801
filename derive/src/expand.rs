//! The expansion: parse, validate, then generate the `unsafe impl ShmMessage`.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, GenericParam, parse_quote};

use crate::ast::{Container, Data, Field, Variant};
use crate::attr::IdlKind;
use crate::ctxt::Ctxt;
use crate::repr::{IntRepr, MessageRepr};
use crate::valid;

/// The fallible core of `#[derive(ShmMessage)]`: every problem of the item is reported
/// in the returned error, each at its own span.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::new();
    let cont = Container::from_ast(&mut cx, input);
    if let Some(cont) = &cont {
        valid::check(&mut cx, cont);
    }
    cx.check()?;
    let cont = cont.expect("a union is always reported as an error");
    let repr = cont
        .repr
        .expect("an illegal repr is always reported as an error");
    Ok(expand(&cont, repr))
}

/// The generated items: the `'static` field or variant table (an inherent constant) and
/// the trait's items.
struct Body {
    table: TokenStream,
    items: TokenStream,
}

/// The generated code's local variables. Mixed-site hygiene keeps the user's locals apart,
/// and the `__shmbus_` prefix keeps a unit struct or constant of the user's (which a
/// binding pattern would resolve to) from capturing them.
struct Locals {
    bytes: Ident,
    offset: Ident,
    field: Ident,
    error: Ident,
}

impl Locals {
    fn new() -> Self {
        let local = |name| Ident::new(name, Span::mixed_site());
        Locals {
            bytes: local("__shmbus_bytes"),
            offset: local("__shmbus_offset"),
            field: local("__shmbus_field"),
            error: local("__shmbus_error"),
        }
    }
}

/// Paths the expansion refers to, rooted at `::shmbus` or the `crate = "..."` override.
struct Paths {
    krate: TokenStream,
    core: TokenStream,
    message: TokenStream,
}

fn expand(cont: &Container<'_>, repr: MessageRepr) -> TokenStream {
    let krate = match &cont.attrs.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::shmbus),
    };
    let paths = Paths {
        core: quote!(#krate::__private::core),
        message: quote!(#krate::message),
        krate,
    };
    let Paths { krate, core, .. } = &paths;

    let ident = cont.ident;
    let type_name = match &cont.attrs.type_name {
        Some(lit) => lit.value(),
        None => ident.unraw().to_string(),
    };

    let mut generics = cont.generics.clone();
    let type_params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    if !type_params.is_empty() {
        let where_clause = generics.make_where_clause();
        for param in &type_params {
            where_clause
                .predicates
                .push(parse_quote!(#param: #krate::ShmMessage));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let drop_message = format!(
        "`{ident}` cannot be sent through shared memory: it has drop glue (it implements \
         `Drop` or holds a field that does), but a message is released by returning its \
         memory, never by running code; remove the `Drop` impl"
    );
    let no_drop = quote! {
        #core::assert!(!#core::mem::needs_drop::<Self>(), #drop_message);
    };
    // A generic type's associated consts are evaluated only when used (every service
    // uses `DESCRIPTOR`); a non-generic type is checked eagerly as well.
    let is_generic = cont
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)));
    let eager_no_drop = (!is_generic).then(|| {
        // Spanned at the type's name, so the failed evaluation points at it.
        let core = respan(core.clone(), ident.span());
        quote_spanned! {ident.span()=>
            const _: () = #core::assert!(!#core::mem::needs_drop::<#ident>(), #drop_message);
        }
    });

    let body = match &cont.data {
        Data::Struct(fields) => expand_struct(
            &paths,
            &type_name,
            fields,
            cont.attrs.kind.as_ref(),
            &no_drop,
        ),
        Data::Enum(variants) => {
            let MessageRepr::Int(int) = repr else {
                unreachable!("repr::parse only gives an enum an integer repr")
            };
            expand_enum(&paths, &type_name, int, variants, &no_drop)
        }
    };

    let Body { table, items } = body;
    quote! {
        const _: () = {
            #eager_no_drop

            // The field (variant) table lives in its own constant: a `&[...]` nested inside
            // `DESCRIPTOR`'s initializer would be a temporary, not a `'static` value.
            #[automatically_derived]
            impl #impl_generics #ident #ty_generics #where_clause {
                #[doc(hidden)]
                #table
            }

            #[automatically_derived]
            // SAFETY: `#[derive(ShmMessage)]` checked the contract: the type has a fixed
            // `repr`, its field types are `ShmMessage` (asserted at each field), it has no
            // drop glue (asserted in `DESCRIPTOR`), and the descriptor and validation below
            // are built from the compiler's own offsets, sizes and alignments.
            unsafe impl #impl_generics #krate::ShmMessage for #ident #ty_generics #where_clause {
                #items
            }
        };
    }
}

fn expand_struct(
    paths: &Paths,
    type_name: &str,
    fields: &[Field<'_>],
    idl: Option<&IdlKind>,
    no_drop: &TokenStream,
) -> Body {
    let Paths {
        krate,
        core,
        message,
    } = paths;
    let Locals {
        bytes,
        offset,
        field,
        error,
    } = Locals::new();
    let descriptors = fields.iter().map(|f| {
        let name = f.name();
        let member = &f.member;
        let ty = f.ty;
        quote_spanned! {ty.span()=>
            #message::FieldDescriptor::new(
                #name,
                #core::mem::offset_of!(Self, #member),
                <#ty as #krate::ShmMessage>::DESCRIPTOR,
            )
        }
    });
    // `True and F1 and F2 ...`, at the type level: the type is valid for every bit
    // pattern exactly when each field is.
    let any_bit_pattern = fields.iter().fold(quote!(#message::True), |acc, f| {
        let ty = f.ty;
        quote_spanned! {ty.span()=>
            <#acc as #message::TypeBool>::And<<#ty as #krate::ShmMessage>::AllBitPatternsValid>
        }
    });
    let zeroed_is_valid = fields.iter().map(|f| {
        let ty = f.ty;
        quote_spanned!(ty.span()=> && <#ty as #krate::ShmMessage>::ZEROED_IS_VALID)
    });
    // Each field is checked through `<F as ShmMessage>::...` paths only (no generic
    // helper with an `F: ShmMessage` bound), all spanned at the field's type: when `F` is
    // not `ShmMessage`, rustc reports every use as the same diagnostic at the same span,
    // so the user sees exactly one error per offending field.
    let validations = fields.iter().map(|f| {
        let name = f.name();
        let member = &f.member;
        let ty = f.ty;
        quote_spanned! {ty.span()=>
            if !<#ty as #krate::ShmMessage>::ANY_BIT_PATTERN {
                let #offset = #core::mem::offset_of!(Self, #member);
                // In bounds: `bytes` is exactly `size_of::<Self>()` long (checked above)
                // and the field lies inside `Self`.
                let #field = &#bytes[#offset..#offset + #core::mem::size_of::<#ty>()];
                <#ty as #krate::ShmMessage>::validate_bytes(#field)
                    .map_err(|#error| #error.in_field(#name, #offset))?;
            }
        }
    });
    let mut table = quote! {
        const __SHMBUS_FIELDS: &'static [#message::FieldDescriptor] = &[#(#descriptors),*];
    };
    let size = quote!(#core::mem::size_of::<Self>());
    let align = quote!(#core::mem::align_of::<Self>());
    let descriptor = match idl {
        None => quote! {
            #message::TypeDescriptor::structure(#type_name, Self::__SHMBUS_FIELDS, #size, #align)
        },
        Some(IdlKind::Enumeration(variants)) => {
            let repr = integer_primitive(fields);
            let entries = variants.iter().map(|(name, value)| {
                let name = name.unraw().to_string();
                quote!(#message::EnumVariant::new(#name, (#value) as i128))
            });
            table.extend(quote! {
                const __SHMBUS_VARIANTS: &'static [#message::EnumVariant] = &[#(#entries),*];
            });
            quote! {
                #message::TypeDescriptor::open_enumeration(
                    #type_name, #message::Primitive::#repr, Self::__SHMBUS_VARIANTS, #size, #align,
                )
            }
        }
        Some(IdlKind::Bitmask(flags)) => {
            let repr = integer_primitive(fields);
            let entries = flags.iter().map(|(name, position)| {
                let name = name.unraw().to_string();
                quote!(#message::BitFlag::new(#name, (#position) as u32))
            });
            table.extend(quote! {
                const __SHMBUS_FLAGS: &'static [#message::BitFlag] = &[#(#entries),*];
            });
            quote! {
                #message::TypeDescriptor::bitmask(
                    #type_name, #message::Primitive::#repr, Self::__SHMBUS_FLAGS, #size, #align,
                )
            }
        }
        Some(IdlKind::Union(cases)) => {
            let entries = cases.iter().filter_map(|(name, labels, default)| {
                let index = fields.iter().position(|f| name.unraw() == f.name())?;
                Some(quote!(#message::UnionCase::new(#index, &[#((#labels) as i128),*], #default)))
            });
            table.extend(quote! {
                const __SHMBUS_CASES: &'static [#message::UnionCase] = &[#(#entries),*];
            });
            quote! {
                #message::TypeDescriptor::union(
                    #type_name, Self::__SHMBUS_FIELDS, Self::__SHMBUS_CASES, #size, #align,
                )
            }
        }
    };
    let items = quote! {
        const DESCRIPTOR: &'static #message::TypeDescriptor = {
            #no_drop
            &#descriptor
        };
        type AllBitPatternsValid = #any_bit_pattern;
        const ZEROED_IS_VALID: bool = true #(#zeroed_is_valid)*;
        fn validate_bytes(
            #bytes: &[u8],
        ) -> #core::result::Result<(), #message::ValidationError> {
            #message::validate::check_size::<Self>(#bytes)?;
            #(#validations)*
            #core::result::Result::Ok(())
        }
    };
    Body { table, items }
}

fn expand_enum(
    paths: &Paths,
    type_name: &str,
    int: IntRepr,
    variants: &[Variant<'_>],
    no_drop: &TokenStream,
) -> Body {
    let Paths { core, message, .. } = paths;
    let Locals { bytes, .. } = Locals::new();
    let primitive = Ident::new(int.primitive_variant(), Span::call_site());
    let entries = variants.iter().map(|variant| {
        let ident = variant.ident;
        let name = ident.unraw().to_string();
        quote!(#message::EnumVariant::new(#name, Self::#ident as i128))
    });
    let table = quote! {
        const __SHMBUS_VARIANTS: &'static [#message::EnumVariant] = &[#(#entries),*];
    };
    let items = quote! {
        const DESCRIPTOR: &'static #message::TypeDescriptor = {
            #no_drop
            &#message::TypeDescriptor::enumeration(
                #type_name,
                #message::Primitive::#primitive,
                Self::__SHMBUS_VARIANTS,
                #core::mem::size_of::<Self>(),
                #core::mem::align_of::<Self>(),
            )
        };
        type AllBitPatternsValid = #message::False;
        const ZEROED_IS_VALID: bool = #message::zero_is_variant(Self::DESCRIPTOR);
        fn validate_bytes(
            #bytes: &[u8],
        ) -> #core::result::Result<(), #message::ValidationError> {
            #message::validate_enum(#bytes, Self::DESCRIPTOR)
        }
    };
    Body { table, items }
}

/// The `Primitive` variant of the one integer field of an enumeration or bitmask struct
/// (checked by `valid`).
fn integer_primitive(fields: &[Field<'_>]) -> Ident {
    let name = fields
        .first()
        .and_then(|f| crate::valid::integer_name(f.ty))
        .unwrap_or_else(|| "u32".to_owned());
    Ident::new(&name.to_uppercase(), Span::call_site())
}

/// `tokens` with every token's span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = TokenTree::Group(respanned);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
