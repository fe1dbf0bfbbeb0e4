//! Paging of list routes, with the parameter names and sizes each API chooses.
//!
//! The CCTV API pages with `page` / `page_size` (100 by default, at most 1,000); the
//! data-sync API keeps the original's `page` / `pageSize` (10 by default). An API declares
//! its style once, as a type implementing [`PageStyle`], and its handlers take
//! [`Paged<Style>`]: the extractor reads the two parameters by name from the query string
//! (a bad value answers 400 naming the parameter, in the envelope), and the same style
//! documents them in the OpenAPI document with their bounds and defaults
//! (`params(Paged<Style>)` in `#[utoipa::path]`, through [`IntoParams`]).
//!
//! ```ignore
//! struct CctvPaging;
//! impl PageStyle for CctvPaging {
//!     const RULES: PageRules = PageRules::new("page", "page_size", 100, 1000);
//! }
//! async fn list(Paged(page, ..): Paged<CctvPaging>) { /* page.limit(), page.offset() */ }
//! ```

use std::marker::PhantomData;

use axum::{
    extract::{FromRequestParts, Query},
    http::request::Parts,
};
use utoipa::{
    IntoParams,
    openapi::{
        Required,
        path::{Parameter, ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, SchemaType, Type},
    },
};

use super::ApiError;

/// One API's paging parameters: their names, the default page size and the largest.
/// Pages are numbered from 1; the first page is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRules {
    pub page_param: &'static str,
    pub size_param: &'static str,
    pub default_size: u32,
    pub max_size: u32,
}

impl PageRules {
    /// Rules with these names and sizes. `default_size` must lie in `1..=max_size`
    /// (checked by the unit tests of each style, see [`PageRules::check`]).
    pub const fn new(
        page_param: &'static str,
        size_param: &'static str,
        default_size: u32,
        max_size: u32,
    ) -> Self {
        Self {
            page_param,
            size_param,
            default_size,
            max_size,
        }
    }

    /// True when the rules are usable: two different names, `1 <= default <= max`.
    pub fn check(&self) -> bool {
        self.page_param != self.size_param && (1..=self.max_size).contains(&self.default_size)
    }

    /// The page asked for by the raw (undecoded) values of the two parameters.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the parameter that is not a whole number in range.
    pub fn resolve(&self, page: Option<&str>, size: Option<&str>) -> Result<Page, ApiError> {
        let page = match page {
            None => 1,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| {
                    ApiError::invalid(
                        self.page_param,
                        format!("{text:?} is not a page number (1, 2, …)"),
                    )
                })?,
        };
        let size = match size {
            None => self.default_size,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=self.max_size).contains(s))
                .ok_or_else(|| {
                    ApiError::invalid(
                        self.size_param,
                        format!("must be between 1 and {} (got {text:?})", self.max_size),
                    )
                })?,
        };
        Ok(Page { page, size })
    }

    /// The page asked for by a decoded query string's pairs. A parameter given twice is
    /// refused: which one was meant is a guess.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the parameter.
    pub fn from_pairs(&self, pairs: &[(String, String)]) -> Result<Page, ApiError> {
        let one = |name: &'static str| -> Result<Option<&str>, ApiError> {
            let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
            let first = values.next();
            if values.next().is_some() {
                return Err(ApiError::invalid(name, "given more than once"));
            }
            Ok(first.map(String::as_str))
        };
        self.resolve(one(self.page_param)?, one(self.size_param)?)
    }

    /// The two parameters as OpenAPI query parameters, with bounds and defaults.
    pub fn parameters(&self) -> Vec<Parameter> {
        let integer = |min: u32, max: Option<u32>, default: u32| {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(min))
                .maximum(max)
                .default(Some(default.into()))
                .build()
        };
        vec![
            ParameterBuilder::new()
                .name(self.page_param)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("Page number, from 1."))
                .schema(Some(integer(1, Some(u32::MAX), 1)))
                .build(),
            ParameterBuilder::new()
                .name(self.size_param)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(format!(
                    "Rows per page, 1 to {} (default {}).",
                    self.max_size, self.default_size
                )))
                .schema(Some(integer(1, Some(self.max_size), self.default_size)))
                .build(),
        ]
    }
}

/// An API's paging style: implemented by a unit type per API.
pub trait PageStyle: Send + Sync + 'static {
    const RULES: PageRules;
}

/// A page asked for: its number (from 1) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub size: u32,
}

impl Page {
    /// Rows to skip (`OFFSET`).
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.size)
    }

    /// Rows to return (`LIMIT`).
    pub fn limit(&self) -> u32 {
        self.size
    }
}

/// The extractor: the page of the request, by `S`'s rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paged<S>(pub Page, pub PhantomData<S>);

impl<S> Paged<S> {
    /// The page.
    pub fn page(&self) -> Page {
        self.0
    }
}

impl<S: PageStyle, St: Send + Sync> FromRequestParts<St> for Paged<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::invalid("query", rejection.body_text()))?;
        Ok(Self(S::RULES.from_pairs(&pairs)?, PhantomData))
    }
}

impl<S: PageStyle> IntoParams for Paged<S> {
    fn into_params(_parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        S::RULES.parameters()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    /// cctv-api's style.
    struct Cctv;
    impl PageStyle for Cctv {
        const RULES: PageRules = PageRules::new("page", "page_size", 100, 1000);
    }

    /// The data-sync API's style (the original's names and defaults).
    struct DataSync;
    impl PageStyle for DataSync {
        const RULES: PageRules = PageRules::new("page", "pageSize", 10, 100);
    }

    async fn extract<S: PageStyle>(query: &str) -> Result<Page, ApiError> {
        let request = Request::builder()
            .uri(format!("/x?{query}"))
            .body(())
            .expect("request");
        let (mut parts, ()) = request.into_parts();
        Paged::<S>::from_request_parts(&mut parts, &())
            .await
            .map(|p| p.page())
    }

    fn field(result: Result<Page, ApiError>) -> String {
        match result {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_api_has_its_names_and_defaults() {
        assert!(Cctv::RULES.check() && DataSync::RULES.check());
        assert_eq!(
            extract::<Cctv>("from=x").await.expect("defaults"),
            Page { page: 1, size: 100 }
        );
        assert_eq!(
            extract::<DataSync>("").await.expect("defaults"),
            Page { page: 1, size: 10 }
        );
        let cctv = extract::<Cctv>("page=3&page_size=50").await.expect("page");
        assert_eq!((cctv.offset(), cctv.limit()), (100, 50));
        let sync = extract::<DataSync>("page=2&pageSize=25")
            .await
            .expect("page");
        assert_eq!((sync.offset(), sync.limit()), (25, 25));
        // Another API's name is just an unknown parameter.
        assert_eq!(
            extract::<DataSync>("page_size=25")
                .await
                .expect("page")
                .size,
            10
        );
    }

    #[tokio::test]
    async fn bad_values_name_the_parameter() {
        assert_eq!(field(extract::<Cctv>("page=0").await), "page");
        assert_eq!(field(extract::<Cctv>("page=two").await), "page");
        assert_eq!(field(extract::<Cctv>("page=-1").await), "page");
        assert_eq!(field(extract::<Cctv>("page_size=0").await), "page_size");
        assert_eq!(field(extract::<Cctv>("page_size=1001").await), "page_size");
        assert!(extract::<Cctv>("page_size=1000").await.is_ok());
        assert_eq!(field(extract::<DataSync>("pageSize=101").await), "pageSize");
        assert_eq!(field(extract::<DataSync>("page=1&page=2").await), "page");
        let huge = extract::<Cctv>("page=4294967295&page_size=1000")
            .await
            .expect("the last page number");
        assert_eq!(huge.offset(), 4_294_967_294_000);
    }

    #[test]
    fn the_document_says_the_bounds_and_defaults() {
        let params = serde_json::to_value(<Paged<DataSync> as IntoParams>::into_params(|| None))
            .expect("serialises");
        assert_eq!(params[0]["name"], "page");
        assert_eq!(params[0]["schema"]["minimum"], 1);
        assert_eq!(params[1]["name"], "pageSize");
        assert_eq!(params[1]["schema"]["maximum"], 100);
        assert_eq!(params[1]["schema"]["default"], 10);
        assert_eq!(params[1]["in"], "query");
        assert!(!PageRules::new("page", "page", 1, 1).check());
        assert!(!PageRules::new("page", "size", 0, 1).check());
    }
}
