//! Each domain enum paired with its proto enum (see [`crate::field::WireEnum`]).

use cohandle_workflows::{event, model};

use crate::field::wire_enum;
use crate::v1;

wire_enum!(event::ActorKind => v1::ActorKind {
    Assigner = Assigner,
    Agency = Agency,
    CongressOffice = CongressOffice,
    Supervisor = Supervisor,
    Timer = Timer,
});

wire_enum!(event::TimerKind => v1::TimerKind {
    Reminder = Reminder,
    Expiry = Expiry,
});

wire_enum!(model::ProposalKind => v1::ProposalKind {
    DeputySuggestion = DeputySuggestion,
    CppccProposal = CppccProposal,
});

wire_enum!(model::AssignmentMode => v1::AssignmentMode {
    Sole = Sole,
    LeadWithCoHandlers = LeadWithCoHandlers,
    Split = Split,
});

wire_enum!(model::TaskRole => v1::TaskRole {
    Lead = Lead,
    CoHandler = CoHandler,
    Split = Split,
});

wire_enum!(model::DisclosureConsent => v1::DisclosureConsent {
    FullText = FullText,
    TitleOnly = TitleOnly,
});

wire_enum!(model::ContactMethod => v1::ContactMethod {
    Phone = Phone,
    Meeting = Meeting,
    Letter = Letter,
});

wire_enum!(model::ResultClass => v1::ResultClass {
    A = A,
    B = B,
    C = C,
    D = D,
});

wire_enum!(model::Satisfaction => v1::Satisfaction {
    Satisfied = Satisfied,
    BasicallySatisfied = BasicallySatisfied,
    Dissatisfied = Dissatisfied,
});

wire_enum!(model::DisclosureScope => v1::DisclosureScope {
    Full = Full,
    Summary = Summary,
    Withheld = Withheld,
});

#[cfg(test)]
mod tests {
    use crate::field::{read_enum, write_enum};
    use crate::Error;

    use super::*;

    #[test]
    fn unspecified_and_unknown_numbers_are_refused() {
        assert!(matches!(
            read_enum::<event::ActorKind>("actor_kind", 0),
            Err(Error::Unspecified { field }) if field == "actor_kind"
        ));
        assert!(matches!(
            read_enum::<model::ResultClass>("draft_reply.result_class", 99),
            Err(Error::UnknownEnumValue { value: 99, .. })
        ));
        assert_eq!(
            read_enum::<model::ResultClass>("r", write_enum(model::ResultClass::C)).unwrap(),
            model::ResultClass::C
        );
    }
}
