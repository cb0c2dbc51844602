//! The parameters few hits carry, kept behind one pointer.
//!
//! A page view built from a served request sets none of them, and a request is moved several times
//! on its way to Matomo (built, queued, batched) and dropped after: boxed, these fields cost it one
//! pointer to move and one test to encode and drop, instead of 250 bytes and a dozen of each.

use super::Geo;
use std::collections::BTreeMap;
use std::fmt;

/// The rarely set parameters of a [`TrackingRequest`](super::TrackingRequest).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rare {
    pub(crate) page_view_id: Option<String>,
    pub(crate) resolution: Option<(u32, u32)>,
    pub(crate) local_time: Option<(u8, u8, u8)>,
    pub(crate) cookie_support: Option<bool>,
    pub(crate) dimensions: BTreeMap<u32, String>,
    pub(crate) visit_variables: BTreeMap<u32, (String, String)>,
    pub(crate) page_variables: BTreeMap<u32, (String, String)>,
    pub(crate) campaign_name: Option<String>,
    pub(crate) campaign_keyword: Option<String>,
    pub(crate) geo: Geo,
    pub(crate) extra: Vec<(String, String)>,
}

impl Rare {
    /// Whether nothing is set: cheaper than comparing with [`NONE`] (no map or float compared).
    fn is_empty(&self) -> bool {
        // Every field named, so a field added later cannot be forgotten here (and its value lost
        // by `RareBox::new`): the pattern stops compiling.
        let Rare {
            page_view_id,
            resolution,
            local_time,
            cookie_support,
            dimensions,
            visit_variables,
            page_variables,
            campaign_name,
            campaign_keyword,
            geo,
            extra,
        } = self;
        page_view_id.is_none()
            && resolution.is_none()
            && local_time.is_none()
            && cookie_support.is_none()
            && dimensions.is_empty()
            && visit_variables.is_empty()
            && page_variables.is_empty()
            && campaign_name.is_none()
            && campaign_keyword.is_none()
            && geo.country.is_none()
            && geo.region.is_none()
            && geo.city.is_none()
            && geo.latitude.is_none()
            && geo.longitude.is_none()
            && extra.is_empty()
    }
}

/// What a request without rare parameters reads.
static NONE: Rare = Rare {
    page_view_id: None,
    resolution: None,
    local_time: None,
    cookie_support: None,
    dimensions: BTreeMap::new(),
    visit_variables: BTreeMap::new(),
    page_variables: BTreeMap::new(),
    campaign_name: None,
    campaign_keyword: None,
    geo: Geo {
        country: None,
        region: None,
        city: None,
        latitude: None,
        longitude: None,
    },
    extra: Vec::new(),
};

/// [`Rare`] parameters, allocated only once one is set. Compares and prints as the parameters
/// themselves, whether allocated or not.
#[derive(Clone, Default)]
pub(crate) struct RareBox(Option<Box<Rare>>);

impl RareBox {
    /// Holds `rare`, allocated only when it sets something.
    pub(crate) fn new(rare: Rare) -> Self {
        Self((!rare.is_empty()).then(|| Box::new(rare)))
    }

    /// The parameters (all unset when none was ever set).
    pub(crate) fn get(&self) -> &Rare {
        self.0.as_deref().unwrap_or(&NONE)
    }

    /// The parameters, when one was ever set.
    pub(crate) fn as_option(&self) -> Option<&Rare> {
        self.0.as_deref()
    }

    /// The parameters, to set one.
    pub(crate) fn get_mut(&mut self) -> &mut Rare {
        self.0.get_or_insert_with(Default::default)
    }
}

impl PartialEq for RareBox {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for RareBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_allocates_nothing_and_compares_as_unset() {
        let empty = RareBox::new(Rare::default());
        assert!(empty.0.is_none());
        let mut touched = RareBox::default();
        let _ = touched.get_mut();
        assert!(touched.0.is_some());
        assert_eq!(empty, touched);
        touched.get_mut().campaign_name = Some("spring".into());
        assert_ne!(empty, touched);
        assert_eq!(
            format!("{:?}", RareBox::default()),
            format!("{:?}", Rare::default())
        );
        assert!(Rare::default().is_empty() && NONE.is_empty());
        let mut geo_only = Rare::default();
        geo_only.geo.longitude = Some(0.0);
        assert!(!geo_only.is_empty());
        assert!(RareBox::new(geo_only).0.is_some());
    }
}
