//! Scheduled meetings: the organizer's `myOnlineMeetings` collection and each
//! `myOnlineMeeting` ([myOnlineMeetings](https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref),
//! [myOnlineMeeting](https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeeting_ref);
//! docs/protocol.md, myOnlineMeetings, myOnlineMeeting). An update PUTs the meeting back as it
//! was read, with its PUT guard and `If-Match: <ETag>`.

use reqwest::Method;
use reqwest::header::ETAG;
use ucwa_proto::RelName;
use ucwa_proto::model::{Dashboard, Hal, MeetingProperties, MyOnlineMeeting};
use ucwa_proto::request::MeetingSettings;

use crate::application::Application;
use crate::client::MeetingAddress;
use crate::error::{Error, Result};
use crate::http::{Body, Http, location, read_json};

/// The organizer's meetings.
#[derive(Clone, Debug)]
pub struct Meetings {
    http: Http,
    href: String,
}

/// A meeting in the list: its URL and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingLink {
    /// The meeting's absolute URL.
    pub href: String,
    /// Its subject (the link's title).
    pub subject: Option<String>,
}

/// One of the organizer's meetings, as last read.
#[derive(Debug, Clone)]
pub struct ScheduledMeeting {
    http: Http,
    href: String,
    etag: Option<String>,
    resource: Hal<MyOnlineMeeting>,
}

impl Application {
    /// The user's scheduled meetings (`myOnlineMeetings`).
    pub fn meetings(&self) -> Result<Meetings> {
        Ok(Meetings { http: self.http().clone(), href: self.find_href(RelName::MyOnlineMeetings)? })
    }
}

impl Meetings {
    /// Every meeting of the organizer.
    pub async fn list(&self) -> Result<Vec<MeetingLink>> {
        let list: Hal<Dashboard> = self.http.get(&self.href).await?;
        list.links
            .all(RelName::MyOnlineMeeting)
            .iter()
            .map(|l| Ok(MeetingLink { href: self.http.resolve(&l.href)?.to_string(), subject: l.title.clone() }))
            .collect()
    }

    /// Reads one meeting.
    pub async fn get(&self, href: &str) -> Result<ScheduledMeeting> {
        ScheduledMeeting::read(&self.http, self.http.resolve(href)?.as_ref()).await
    }

    /// Schedules a meeting.
    pub async fn create(&self, settings: &MeetingSettings) -> Result<ScheduledMeeting> {
        let resp = self.http.send(Method::POST, &self.href, &Body::json(settings)?, None).await?;
        let href = self.http.resolve(&location(&resp)?)?.to_string();
        let etag = etag_of(&resp);
        let resource = read_json(resp).await?;
        Ok(ScheduledMeeting { http: self.http.clone(), href, etag, resource })
    }

    /// The meeting `reference` names: its id, its URI or its join URL (compared without
    /// letter case), or its URL.
    pub async fn find(&self, reference: &str) -> Result<Option<ScheduledMeeting>> {
        let reference = reference.trim();
        for link in self.list().await? {
            let meeting = self.get(&link.href).await?;
            let props = meeting.properties();
            let names = [
                Some(meeting.href.as_str()),
                props.online_meeting_id.as_deref(),
                props.online_meeting_uri.as_ref().map(|u| u.as_str()),
                props.join_url.as_deref(),
            ];
            if names.into_iter().flatten().any(|name| name.eq_ignore_ascii_case(reference)) {
                return Ok(Some(meeting));
            }
        }
        Ok(None)
    }
}

fn etag_of(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

impl ScheduledMeeting {
    async fn read(http: &Http, href: &str) -> Result<Self> {
        let resp = http.send(Method::GET, href, &Body::Empty, None).await?;
        let etag = etag_of(&resp);
        let resource = read_json(resp).await?;
        Ok(Self { http: http.clone(), href: href.to_owned(), etag, resource })
    }

    /// The meeting's absolute URL.
    pub fn href(&self) -> &str {
        &self.href
    }

    /// The resource as last read.
    pub fn resource(&self) -> &Hal<MyOnlineMeeting> {
        &self.resource
    }

    /// Its settings and identity.
    pub fn properties(&self) -> &MeetingProperties {
        &self.resource.props.meeting
    }

    /// The conference id.
    pub fn id(&self) -> Option<&str> {
        self.properties().online_meeting_id.as_deref()
    }

    /// The https join URL to hand out.
    pub fn join_url(&self) -> Option<&str> {
        self.properties().join_url.as_deref()
    }

    /// The meeting's address, for joining it.
    pub fn address(&self) -> Result<MeetingAddress> {
        let uri = self.properties().online_meeting_uri.clone().ok_or_else(|| Error::Protocol {
            url: self.href.clone(),
            problem: "a meeting without onlineMeetingUri".into(),
        })?;
        let mut address = MeetingAddress::from_uri(uri)?;
        address.join_url = self.join_url().map(str::to_owned);
        Ok(address)
    }

    /// Changes the meeting: `change` edits its properties, which are PUT back with the ETag
    /// they were read with. If someone else changed it meanwhile (`412`), the meeting is read
    /// again and `change` applied to that once more.
    pub async fn update(&mut self, change: impl Fn(&mut MeetingProperties)) -> Result<()> {
        for attempt in 0..2 {
            let mut changed = self.resource.clone();
            change(&mut changed.props.meeting);
            let etag = self.etag.clone().or_else(|| self.resource.props.etag.clone()).unwrap_or_default();
            let result = self.http.send(Method::PUT, &self.href, &Body::json(&changed)?, Some(&etag)).await;
            match result {
                Ok(resp) => {
                    self.etag = etag_of(&resp).or(self.etag.take());
                    self.resource = read_json(resp).await?;
                    // A PUT answer may carry no ETag; read it back for the next update.
                    if self.etag.is_none() || self.etag.as_deref() == Some(etag.as_str()) {
                        *self = Self::read(&self.http, &self.href).await?;
                    }
                    return Ok(());
                }
                Err(e) if e.status() == Some(412) && attempt == 0 => *self = Self::read(&self.http, &self.href).await?,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Protocol { url: self.href.clone(), problem: "the meeting kept changing".into() })
    }

    /// Deletes the meeting: it ends for everyone in it.
    pub async fn delete(self) -> Result<()> {
        self.http.delete(&self.href).await
    }
}
