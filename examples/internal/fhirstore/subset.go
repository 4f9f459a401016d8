package fhirstore

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/smartguard/smartguard/scope"
)

// subset is what _elements and _summary keep of each resource of an
// answer (FHIR R4 search.html, §3.1.1.5.8 and §3.1.1.5.9), on a search,
// a read and a vread:
//
//   - resourceType, id and meta are always kept;
//   - _elements=a,b keeps the top-level elements a and b and the type's
//     mandatory elements (min ≥ 1 in R4); "value" or "value[x]" names
//     every value[x] choice, "Observation.status" applies to
//     Observations only (the other types of the Bundle keep their
//     mandatory elements), and the names apply to included resources
//     too;
//   - _summary=true keeps the elements R4 marks as summary (isSummary),
//     the mandatory ones, implicitRules and modifierExtension, for the
//     types in r4Elements; a type not in the table keeps everything but
//     text;
//   - _summary=text keeps text and the mandatory elements;
//   - _summary=data keeps everything but text;
//   - _summary=count and _summary=false keep everything (count answers
//     no resources).
//
// _elements and _summary together keep what either keeps. An element's
// primitive extensions ("_birthDate") go with it. A resource cut down is
// tagged SUBSETTED in meta.tag, so that no client writes it back as the
// whole resource.
type subset struct {
	summary  string // "true", "text" or "data"; "" for no summary
	elements []elementName
}

// elementName is one name of _elements: an element, of every type or of
// one.
type elementName struct{ typ, name string }

// subsetted is the tag of a resource that an answer does not hold whole.
var subsetted = coding{"http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED", "subsetted"}

// whole reports whether sb keeps every element.
func (sb subset) whole() bool { return sb.summary == "" && sb.elements == nil }

// setSummary reads a _summary value other than count; count, which only
// a search takes, is the caller's.
func (sb *subset) setSummary(value string) error {
	switch value {
	case "true", "text", "data":
		sb.summary = value
	case "false":
		sb.summary = ""
	default:
		return fail(http.StatusBadRequest, "invalid", "_summary must be true, text, data, count or false")
	}
	return nil
}

// elementSyntax is the form of an element name, maybe with [x].
var elementSyntax = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(\[x\])?$`)

// addElements reads an _elements value, a comma list of top-level
// element names, each maybe after a resource type and a dot.
func (sb *subset) addElements(value string) error {
	if sb.elements == nil {
		sb.elements = []elementName{}
	}
	for n := range strings.SplitSeq(value, ",") {
		e := elementName{name: strings.TrimSpace(n)}
		if typ, name, ok := strings.Cut(e.name, "."); ok && scope.IsR4Type(typ) {
			e = elementName{typ: typ, name: name}
		}
		switch {
		case e.name == "":
			return fail(http.StatusBadRequest, "invalid", "_elements names an empty element")
		case strings.Contains(e.name, "."):
			return fail(http.StatusBadRequest, "not-supported", "_elements=%s: the demo server selects top-level elements only", n)
		case !elementSyntax.MatchString(e.name):
			return fail(http.StatusBadRequest, "invalid", "_elements=%s is not an element name", n)
		}
		sb.elements = append(sb.elements, e)
	}
	return nil
}

// apply returns body, a resource, cut down to what sb keeps and tagged
// SUBSETTED; body itself when sb keeps everything.
func (sb subset) apply(body []byte) []byte {
	if sb.whole() {
		return body
	}
	v, err := decodeJSON(body)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return body // never: the store holds resources
	}
	typ, _ := m["resourceType"].(string)
	for k := range m {
		if !sb.keeps(typ, strings.TrimPrefix(k, "_")) {
			delete(m, k)
		}
	}
	tag(m, subsetted)
	return encode(m)
}

// keeps reports whether sb keeps the top-level element key of a
// resource of type typ.
func (sb subset) keeps(typ, key string) bool {
	switch key {
	case "resourceType", "id", "meta":
		return true
	}
	t, known := r4Elements[typ]
	mandatory := known && slices.ContainsFunc(t.mandatory, func(n string) bool { return elementMatches(n, key) })
	for _, e := range sb.elements {
		if (e.typ == "" || e.typ == typ) && elementMatches(e.name, key) {
			return true
		}
	}
	switch sb.summary {
	case "true":
		if !known {
			return key != "text"
		}
		return mandatory || key == "implicitRules" || key == "modifierExtension" ||
			slices.ContainsFunc(t.summary, func(n string) bool { return elementMatches(n, key) })
	case "text":
		return mandatory || key == "text"
	case "data":
		return key != "text"
	}
	return mandatory
}

// elementMatches reports whether the element name (maybe "value[x]")
// names the JSON member key: the element itself or, when the name is
// that of a choice, one of its types ("valueQuantity" for "value" and
// "value[x]", but not "classHistory" for "class").
func elementMatches(name, key string) bool {
	stem := strings.TrimSuffix(name, "[x]")
	if key == stem {
		return true
	}
	rest, ok := strings.CutPrefix(key, stem)
	return ok && choiceTypes[rest]
}

// choiceTypes are the R4 data types a choice element's name ends with.
var choiceTypes = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer
		Markdown Oid PositiveInt String Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment
		CodeableConcept Coding ContactPoint Count Distance Duration HumanName Identifier Money Period Quantity
		Range Ratio Reference SampledData Signature Timing ContactDetail Contributor DataRequirement Expression
		ParameterDefinition RelatedArtifact TriggerDefinition UsageContext Dosage Meta`) {
		choiceTypes[t] = true
	}
}

// tag adds c to the meta.tag of resource m, unless it is there.
func tag(m map[string]any, c coding) {
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["meta"] = meta
	}
	tags, _ := meta["tag"].([]any)
	for _, t := range tags {
		if t, _ := t.(map[string]any); t["system"] == c.system && t["code"] == c.code {
			return
		}
	}
	meta["tag"] = append(tags, c.json())
}

// r4Elements are, for the types of the sample data, the top-level
// elements R4 marks as summary (isSummary) and those it makes mandatory
// (min ≥ 1), as the R4 StructureDefinitions of the types list them.
var r4Elements = map[string]struct{ summary, mandatory []string }{
	"AllergyIntolerance": {
		summary:   []string{"identifier", "clinicalStatus", "verificationStatus", "type", "category", "criticality", "code", "patient", "asserter"},
		mandatory: []string{"patient"},
	},
	"CarePlan": {
		summary:   []string{"identifier", "instantiatesCanonical", "instantiatesUri", "basedOn", "replaces", "partOf", "status", "intent", "category", "title", "description", "subject", "encounter", "period", "created", "author", "addresses"},
		mandatory: []string{"status", "intent", "subject"},
	},
	"CareTeam": {
		summary: []string{"identifier", "status", "category", "name", "subject", "encounter", "period", "managingOrganization"},
	},
	"Condition": {
		summary:   []string{"identifier", "clinicalStatus", "verificationStatus", "code", "bodySite", "subject", "encounter", "onset[x]", "recordedDate", "recorder", "asserter"},
		mandatory: []string{"subject"},
	},
	"Coverage": {
		summary:   []string{"identifier", "status", "type", "policyHolder", "subscriber", "subscriberId", "beneficiary", "dependent", "period", "payor", "order", "network"},
		mandatory: []string{"status", "beneficiary", "payor"},
	},
	"Device": {
		summary: []string{"udiCarrier", "status", "safety"},
	},
	"DiagnosticReport": {
		summary:   []string{"identifier", "status", "category", "code", "subject", "encounter", "effective[x]", "issued", "performer", "resultsInterpreter", "media"},
		mandatory: []string{"status", "code"},
	},
	"DocumentReference": {
		summary:   []string{"masterIdentifier", "identifier", "status", "docStatus", "type", "category", "subject", "date", "author", "relatesTo", "description", "securityLabel", "content", "context"},
		mandatory: []string{"status", "content"},
	},
	"Encounter": {
		summary:   []string{"identifier", "status", "class", "type", "serviceType", "subject", "episodeOfCare", "participant", "appointment", "reasonCode", "reasonReference", "diagnosis"},
		mandatory: []string{"status", "class"},
	},
	"Goal": {
		summary:   []string{"lifecycleStatus", "achievementStatus", "category", "priority", "description", "subject", "start[x]", "statusDate", "expressedBy"},
		mandatory: []string{"lifecycleStatus", "description", "subject"},
	},
	"Immunization": {
		summary:   []string{"status", "vaccineCode", "patient", "occurrence[x]", "primarySource", "performer", "note", "isSubpotent"},
		mandatory: []string{"status", "vaccineCode", "patient", "occurrence[x]"},
	},
	"Location": {
		summary: []string{"identifier", "status", "operationalStatus", "name", "description", "mode", "type", "physicalType", "managingOrganization"},
	},
	"Medication": {
		summary: []string{"identifier", "code", "status", "manufacturer", "amount"},
	},
	"MedicationRequest": {
		summary:   []string{"status", "intent", "priority", "doNotPerform", "reported[x]", "medication[x]", "subject", "authoredOn", "requester", "performerType", "instantiatesCanonical", "instantiatesUri", "basedOn", "groupIdentifier"},
		mandatory: []string{"status", "intent", "medication[x]", "subject"},
	},
	"Observation": {
		summary:   []string{"identifier", "basedOn", "partOf", "status", "code", "subject", "focus", "encounter", "effective[x]", "issued", "performer", "value[x]", "hasMember", "derivedFrom", "component"},
		mandatory: []string{"status", "code"},
	},
	"Organization": {
		summary: []string{"identifier", "active", "type", "name", "partOf"},
	},
	"Patient": {
		summary: []string{"identifier", "active", "name", "telecom", "gender", "birthDate", "deceased[x]", "address", "managingOrganization", "link"},
	},
	"Practitioner": {
		summary: []string{"identifier", "active", "name", "telecom", "address", "gender", "birthDate"},
	},
	"Procedure": {
		summary:   []string{"identifier", "instantiatesCanonical", "instantiatesUri", "basedOn", "partOf", "status", "statusReason", "category", "code", "subject", "encounter", "performed[x]", "recorder", "asserter", "performer", "location", "reasonCode", "reasonReference", "bodySite", "outcome"},
		mandatory: []string{"status", "subject"},
	},
	"Provenance": {
		summary:   []string{"target", "recorded"},
		mandatory: []string{"target", "recorded", "agent"},
	},
	"RelatedPerson": {
		summary:   []string{"identifier", "active", "patient", "relationship", "name", "telecom", "gender", "birthDate", "address"},
		mandatory: []string{"patient"},
	},
	"ServiceRequest": {
		summary:   []string{"identifier", "instantiatesCanonical", "instantiatesUri", "basedOn", "replaces", "requisition", "status", "intent", "category", "priority", "doNotPerform", "code", "orderDetail", "quantity[x]", "subject", "encounter", "occurrence[x]", "asNeeded[x]", "authoredOn", "requester", "performerType", "performer", "locationCode", "locationReference", "reasonCode", "reasonReference", "specimen", "bodySite", "patientInstruction"},
		mandatory: []string{"status", "intent", "subject"},
	},
	"Specimen": {
		summary: []string{"identifier", "accessionIdentifier", "status", "type", "subject", "receivedTime", "condition"},
	},
}
