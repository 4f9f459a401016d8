package scope

// Interaction is a FHIR RESTful interaction, named by its code in the FHIR
// R4 TypeRestfulInteraction and SystemRestfulInteraction value sets, with
// the "-type", "-system" and "-instance" levels spelled out where FHIR uses
// one code for several levels.
type Interaction string

// The FHIR R4 interactions a resource server sees.
const (
	InteractionRead            Interaction = "read"
	InteractionVRead           Interaction = "vread"
	InteractionHistoryInstance Interaction = "history-instance"
	InteractionUpdate          Interaction = "update"
	InteractionPatch           Interaction = "patch"
	InteractionDelete          Interaction = "delete"
	InteractionCreate          Interaction = "create"
	InteractionSearchType      Interaction = "search-type"
	InteractionSearchSystem    Interaction = "search-system"
	InteractionHistoryType     Interaction = "history-type"
	InteractionHistorySystem   Interaction = "history-system"
	InteractionCapabilities    Interaction = "capabilities"
	InteractionBatch           Interaction = "batch"
	InteractionTransaction     Interaction = "transaction"
	InteractionOperation       Interaction = "operation"
)

// Permission returns the SMART letter that grants i (SMART App Launch 2.2,
// "Scopes for requesting FHIR Resources"): c create; r read, vread and
// instance history; u update (also update-as-create) and patch; d delete;
// s search and history at type and system level. Capabilities, batch,
// transaction and operations have no letter of their own and return 0, as
// does any other string: a batch is decided entry by entry, an operation
// by what the application declares it needs. A 0 is never granted.
func (i Interaction) Permission() Permission {
	switch i {
	case InteractionCreate:
		return Create
	case InteractionRead, InteractionVRead, InteractionHistoryInstance:
		return Read
	case InteractionUpdate, InteractionPatch:
		return Update
	case InteractionDelete:
		return Delete
	case InteractionSearchType, InteractionSearchSystem, InteractionHistoryType, InteractionHistorySystem:
		return Search
	}
	return 0
}
