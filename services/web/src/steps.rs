//! The steps a page offers as forms, and which of them a visitor sees: a step is shown only
//! when the token's role may send its event ([`cohandle_api::access::may_send`]) and the
//! task's workflow definition has a transition for it from the task's present state with
//! the visitor's part in the task (lead, co-handler, congress office). Every form carries a
//! fresh idempotency key, which becomes the event's id, so sending it twice is one step.

use chrono::NaiveDate;
use cohandle_api::dto::TaskSummary;
use cohandle_api::{access, Principal, Role};
use cohandle_workflows::event::Role as Part;
use cohandle_workflows::model::{
    Dispatch, Draft, Feedback, Machine, Opinion, ResultClass, Satisfaction, Signature,
};
use cohandle_workflows::{AgencyCode, Body, Definition, Proposal};
use maud::{html, Markup};
use serde::Deserialize;

use crate::words;

/// A step with a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SignFor,
    Acknowledge,
    SubmitOpinion,
    DraftReply,
    SignReply,
    SendReply,
    RecordFeedback,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::SignFor,
        Step::Acknowledge,
        Step::SubmitOpinion,
        Step::DraftReply,
        Step::SignReply,
        Step::SendReply,
        Step::RecordFeedback,
    ];

    /// The event it sends, also the last segment of its form's URL.
    pub fn event(self) -> &'static str {
        match self {
            Self::SignFor => "sign_for",
            Self::Acknowledge => "acknowledge",
            Self::SubmitOpinion => "submit_opinion",
            Self::DraftReply => "draft_reply",
            Self::SignReply => "sign_reply",
            Self::SendReply => "send_reply",
            Self::RecordFeedback => "record_feedback",
        }
    }

    pub fn parse(event: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.event() == event)
    }

    fn button(self) -> &'static str {
        match self {
            Self::SignFor | Self::Acknowledge => "签收",
            Self::SubmitOpinion => "提交协办意见",
            Self::DraftReply => "保存答复稿",
            Self::SignReply => "审签",
            Self::SendReply => "答复代表",
            Self::RecordFeedback => "登记回执",
        }
    }
}

/// The visitor's part in a task, if it takes steps in it at all.
fn part(principal: &Principal, task: &TaskSummary) -> Option<Part> {
    match principal.role {
        Role::Agency if principal.agency.as_str() == task.agency => {
            Some(if task.role == "co_handler" {
                Part::CoHandler
            } else {
                Part::Lead
            })
        }
        Role::CongressOffice => Some(Part::CongressOffice),
        _ => None,
    }
}

/// The steps `principal` may take on `task` now.
pub fn available(principal: &Principal, task: &TaskSummary, definition: &Definition) -> Vec<Step> {
    let Some(part) = part(principal, task) else {
        return Vec::new();
    };
    if !task.active || task.terminal {
        return Vec::new();
    }
    let machine = if task.role == "co_handler" {
        Machine::CoHandler
    } else {
        Machine::Handler
    };
    let transitions = &definition.machine(machine).transitions;
    Step::ALL
        .into_iter()
        .filter(|step| access::may_send(principal, step.event()).is_ok())
        .filter(|step| {
            transitions.iter().any(|t| {
                t.event == step.event()
                    && t.actors.contains(&part)
                    && t.from.iter().any(|f| f == &task.state || f == "*")
            })
        })
        .collect()
}

/// A form as posted. Every step reads the fields it needs; an empty field is absent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StepForm {
    pub csrf: String,
    pub idempotency_key: String,
    pub document_number: Option<String>,
    pub summary: Option<String>,
    pub result_class: Option<String>,
    /// Agency codes, separated by commas or spaces.
    pub co_handler_views: Option<String>,
    pub commits_funds: Option<String>,
    pub signer: Option<String>,
    pub title: Option<String>,
    pub principal_head: Option<String>,
    pub on: Option<String>,
    /// Names, separated by commas or 、.
    pub deputies: Option<String>,
    pub copies: Option<String>,
    pub satisfaction: Option<String>,
    pub comments: Option<String>,
}

fn text(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn required(value: Option<&String>, what: &str) -> Result<String, String> {
    text(value).ok_or_else(|| format!("请填写{what}。"))
}

fn list(value: Option<&String>) -> Vec<String> {
    text(value)
        .map(|v| {
            v.split([',', '，', '、', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn date(value: Option<&String>, what: &str) -> Result<NaiveDate, String> {
    let raw = required(value, what)?;
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map_err(|_| format!("{what}应为日期，如 2020-03-20。"))
}

impl StepForm {
    /// The event body this form asks for, or a sentence saying what is missing. `agency`
    /// is the task's agency (the congress office records a receipt for it).
    pub fn body(&self, step: Step, agency: &AgencyCode) -> Result<Body, String> {
        Ok(match step {
            Step::SignFor => Body::SignFor,
            Step::Acknowledge => Body::Acknowledge,
            Step::SubmitOpinion => Body::SubmitOpinion(Opinion {
                document_number: required(self.document_number.as_ref(), "意见文号")?,
                summary: required(self.summary.as_ref(), "意见内容")?,
                submitted_on: None,
            }),
            Step::DraftReply => Body::DraftReply(Draft {
                result_class: match required(self.result_class.as_ref(), "办理结果")?.as_str() {
                    "A" => ResultClass::A,
                    "B" => ResultClass::B,
                    "C" => ResultClass::C,
                    "D" => ResultClass::D,
                    _ => return Err("办理结果应为 A、B、C 或 D 类。".to_owned()),
                },
                document_number: required(self.document_number.as_ref(), "发文字号")?,
                summary: required(self.summary.as_ref(), "答复摘要")?,
                co_handler_views: list(self.co_handler_views.as_ref())
                    .into_iter()
                    .map(|c| {
                        AgencyCode::parse(c.clone()).map_err(|_| format!("{c} 不是单位代码。"))
                    })
                    .collect::<Result<_, _>>()?,
                commits_funds: self.commits_funds.is_some(),
            }),
            Step::SignReply => Body::SignReply(Signature {
                signer: required(self.signer.as_ref(), "签发人")?,
                title: required(self.title.as_ref(), "签发人职务")?,
                principal_head: self.principal_head.is_some(),
                signed_on: date(self.on.as_ref(), "审签日期")?,
            }),
            Step::SendReply => Body::SendReply(Dispatch {
                sent_on: date(self.on.as_ref(), "答复日期")?,
                deputies: {
                    let deputies = list(self.deputies.as_ref());
                    if deputies.is_empty() {
                        return Err("请填写答复的代表。".to_owned());
                    }
                    deputies
                },
                copies: list(self.copies.as_ref()),
            }),
            Step::RecordFeedback => Body::RecordFeedback {
                agency: agency.clone(),
                feedback: Feedback {
                    satisfaction: match required(self.satisfaction.as_ref(), "满意程度")?.as_str()
                    {
                        "satisfied" => Satisfaction::Satisfied,
                        "basically_satisfied" => Satisfaction::BasicallySatisfied,
                        "dissatisfied" => Satisfaction::Dissatisfied,
                        _ => return Err("满意程度应为满意、基本满意或不满意。".to_owned()),
                    },
                    comments: text(self.comments.as_ref()).unwrap_or_default(),
                    received_on: date(self.on.as_ref(), "收到回执日期")?,
                },
            },
        })
    }
}

/// What a form needs to render.
#[derive(Debug)]
pub struct FormContext<'a> {
    pub action: String,
    pub csrf: String,
    pub proposal: &'a Proposal,
    pub today: NaiveDate,
    /// The engine's or the form's refusal of the last try, shown beside the form.
    pub refusal: Option<String>,
}

/// One step's form, with a fresh idempotency key.
pub fn form(step: Step, context: &FormContext<'_>) -> Markup {
    let idempotency_key = format!("web-{}", uuid::Uuid::new_v4().simple());
    let today = context.today.to_string();
    let co_handlers: Vec<&str> = context
        .proposal
        .tasks
        .iter()
        .filter(|t| t.active && t.role == cohandle_workflows::model::TaskRole::CoHandler)
        .map(|t| t.agency.as_str())
        .collect();
    let mut deputies = vec![context.proposal.info.lead_deputy.clone()];
    deputies.extend(context.proposal.info.co_signers.iter().cloned());
    html! {
        form.step.card method="post" action={ (context.action) "/steps/" (step.event()) } data-step=(step.event()) {
            h3 { (words::event(step.event())) }
            input type="hidden" name="csrf" value=(context.csrf);
            input type="hidden" name="idempotency_key" value=(idempotency_key);
            @match step {
                Step::SignFor | Step::Acknowledge => p.hint { "确认收到交办任务。" },
                Step::SubmitOpinion => {
                    label { "意见文号" input type="text" name="document_number" required placeholder="如 渝教函〔2020〕12号"; }
                    label { "意见内容" textarea name="summary" rows="4" required {} }
                }
                Step::DraftReply => {
                    label { "办理结果" select name="result_class" {
                        option value="A" { "A 类：已解决或基本解决" }
                        option value="B" { "B 类：正在解决或列入计划" }
                        option value="C" { "C 类：因条件限制留作参考" }
                        option value="D" { "D 类：留作参考" }
                    } }
                    label { "发文字号" input type="text" name="document_number" required; }
                    label { "答复摘要" textarea name="summary" rows="4" required {} }
                    label { "吸收协办意见的单位" input type="text" name="co_handler_views" value=(co_handlers.join(",")); }
                    label { input type="checkbox" name="commits_funds" value="yes"; " 涉及项目或资金承诺" }
                }
                Step::SignReply => {
                    label { "签发人" input type="text" name="signer" required; }
                    label { "职务" input type="text" name="title" required placeholder="如 局长"; }
                    label { input type="checkbox" name="principal_head" value="yes"; " 主要负责人签发" }
                    label { "审签日期" input type="date" name="on" value=(today) required; }
                }
                Step::SendReply => {
                    label { "答复日期" input type="date" name="on" value=(today) required; }
                    label { "代表" input type="text" name="deputies" value=(deputies.join("、")) required; }
                    label { "抄送" input type="text" name="copies" placeholder="如 市人大常委会人代工委、市政府办公厅"; }
                }
                Step::RecordFeedback => {
                    label { "满意程度" select name="satisfaction" {
                        option value="satisfied" { "满意" }
                        option value="basically_satisfied" { "基本满意" }
                        option value="dissatisfied" { "不满意" }
                    } }
                    label { "意见" textarea name="comments" rows="2" {} }
                    label { "收到回执日期" input type="date" name="on" value=(today) required; }
                }
            }
            @if let Some(refusal) = &context.refusal {
                p.refusal role="alert" { (refusal) }
            }
            button type="submit" { (step.button()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_an_event_the_api_knows() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.event()), Some(step));
            assert!(
                !access::senders(step.event()).is_empty(),
                "{}",
                step.event()
            );
        }
    }

    #[test]
    fn a_form_missing_a_field_says_which() {
        let form = StepForm {
            document_number: Some("渝教函〔2020〕12号".into()),
            summary: Some("  ".into()),
            ..StepForm::default()
        };
        let agency = AgencyCode::parse("cq-jw").unwrap();
        assert_eq!(
            form.body(Step::SubmitOpinion, &agency).unwrap_err(),
            "请填写意见内容。"
        );
        assert_eq!(form.body(Step::Acknowledge, &agency), Ok(Body::Acknowledge));
        let send = StepForm {
            on: Some("2020-05-01".into()),
            deputies: Some("郎平权、张三".into()),
            ..StepForm::default()
        };
        match send.body(Step::SendReply, &agency) {
            Ok(Body::SendReply(d)) => assert_eq!(d.deputies, ["郎平权", "张三"]),
            other => panic!("{other:?}"),
        }
    }
}
