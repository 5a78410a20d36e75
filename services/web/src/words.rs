//! The Chinese words the pages use for the engine's names: roles, states, events, deadlines
//! and refusal codes. An unknown name is shown as it is, so a new state in a definition is
//! never hidden.

use chrono::TimeZone as _;
use cohandle_api::Role;
use cohandle_workflows::model::Satisfaction;

pub fn role(role: Role) -> &'static str {
    match role {
        Role::Assigner => "交办单位",
        Role::Agency => "承办单位",
        Role::CongressOffice => "人大代表工作机构",
        Role::Supervisor => "督查人员",
        Role::Admin => "管理员",
    }
}

pub fn task_role(name: &str) -> &str {
    match name {
        "lead" => "主办",
        "co_handler" => "协办",
        "split" => "分办",
        "sole" => "独办",
        other => other,
    }
}

/// The part a history row's sender played.
pub fn actor_role(name: &str) -> &str {
    match name {
        "assigner" => "交办单位",
        "lead" => "主办单位",
        "co_handler" => "协办单位",
        "congress_office" => "人大代表工作机构",
        "supervisor" => "督查人员",
        "timer" => "期限监控",
        "engine" => "系统",
        other => other,
    }
}

pub fn state(name: &str) -> &str {
    match name {
        "new" => "未交办",
        "open" => "办理中",
        "closed" => "已办结",
        "merged" => "已并案",
        "received" => "待签收",
        "handling" => "办理中",
        "drafted" => "已拟稿",
        "signed" => "已审签",
        "replied" => "已答复",
        "following_up" => "跟踪落实",
        "rehandling" => "重新办理",
        "escalated" => "当面协商",
        "reassigned" => "已调整",
        "assigned" => "待签收",
        "acknowledged" => "已签收",
        "opinion_sent" => "已提交协办意见",
        "declined" => "已退回",
        other => other,
    }
}

pub fn event(name: &str) -> &str {
    match name {
        "assign" => "交办",
        "sign_for" => "签收",
        "acknowledge" => "签收（协办）",
        "dispute" => "申请调整",
        "decide_dispute" => "调整决定",
        "submit_opinion" => "提交协办意见",
        "decline" => "退回",
        "raise_disagreement" => "提出分歧",
        "settle_disagreement" => "协调分歧",
        "record_contact" => "沟通联系",
        "draft_reply" => "拟写答复",
        "return_draft" => "退回答复稿",
        "sign_reply" => "审签",
        "send_reply" => "答复代表",
        "record_feedback" => "代表回执",
        "report_progress" => "报告进展",
        "conclude_follow_up" => "跟踪办结",
        "record_consultation" => "当面协商",
        "request_extension" => "申请延期",
        "approve_extension" => "同意延期",
        "refuse_extension" => "不同意延期",
        "record_disclosure" => "公开",
        "pause_clock" => "暂停计时",
        "resume_clock" => "恢复计时",
        "merge_into" => "并案",
        "absorb" => "并入",
        "urge" => "督办",
        "recompute_deadlines" => "重算期限",
        "reminder" => "到期提醒",
        "expiry" => "期限届满",
        other => other,
    }
}

pub fn deadline(name: &str) -> &str {
    match name {
        "dispute_window" => "申请调整期",
        "co_handler_opinion" => "协办意见期限",
        "reply" => "答复期限",
        "feedback" => "回执期限",
        "rehandling" => "重新办理期限",
        other => other,
    }
}

/// A refusal as a sentence for a person: what went wrong in Chinese, the engine's own
/// words after it.
pub fn refusal(code: &str) -> &'static str {
    match code {
        "wrong_state" => "当前办理状态下不能进行这一步。",
        "actor_not_allowed" | "role_not_allowed" => "您的身份不能进行这一步。",
        "guard_failed" => "办理条件尚未满足。",
        "unknown_proposal" | "proposal_not_found" => "没有这件建议或提案。",
        "unknown_task" | "task_not_found" => "该单位在这件建议中没有任务。",
        "invalid_payload" | "body_invalid" => "填写的内容不符合要求。",
        "already_exists" => "这件建议已经交办过。",
        "calendar" => "期限无法按节假日安排计算。",
        "clock_skew" => "办理时间不合理。",
        "wrong_jurisdiction" => "编号不属于已登记的辖区，或该辖区不适用这一办理规则。",
        "jurisdiction_not_yours" => "这件建议或提案不在您单位所属的辖区内。",
        "not_your_proposal" => "这件建议或提案不属于您的单位。",
        "not_your_task" | "not_your_agency" => "这不是您单位的任务。",
        "idempotency_key_reused" => "这张表单已经用于另一次提交，请刷新页面后重填。",
        "csrf" => "表单已失效，请刷新页面后重新提交。",
        "token_missing" | "token_invalid" | "token_revoked" | "token_expired" => {
            "令牌无效、已过期或已撤销。"
        }
        "unavailable" => "数据库暂时不可用，请稍后用同一张表单重试。",
        _ => "操作未能完成。",
    }
}

/// What a person is told of a step held until the one it depends on arrives (`code`: the
/// refusal it would get now), and when it is refused if that one does not come.
pub fn held(code: &str, until: chrono::DateTime<chrono::Utc>) -> String {
    let until = cohandle_workflows::engine::china_offset().from_utc_datetime(&until.naive_utc());
    format!(
        "这一步已收到，但{}前一步到达后将自动办理；若到 {} 仍不能办理，将予以退回。",
        refusal(code),
        until.format("%Y-%m-%d %H:%M")
    )
}

pub fn satisfaction(level: Satisfaction) -> &'static str {
    match level {
        Satisfaction::Satisfied => "满意",
        Satisfaction::BasicallySatisfied => "基本满意",
        Satisfaction::Dissatisfied => "不满意",
    }
}
