package search

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

const base = "http://example.org/fhir"

var opts = Options{Base: base, Now: time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)}

// Resources the cases search, shaped after the R4 examples.
const (
	patient = `{"resourceType":"Patient","id":"23","active":true,"gender":"male","birthDate":"1974-12-25",
	 "meta":{"lastUpdated":"2010-10-02T10:00:00Z","tag":[{"system":"http://acme.org/codes","code":"needs-review"}]},
	 "name":[{"use":"official","family":"Carreño Quiñones","given":["Evelyn","Pat"],"prefix":["Dr."]}],
	 "identifier":[{"system":"http://acme.org/patient","value":"2345"},
	   {"type":{"text":"Medical record","coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"446053"},
	   {"value":"no-system"}],
	 "telecom":[{"system":"phone","value":"555-1234"},{"system":"email","value":"eve@example.org"}],
	 "address":[{"line":["534 Erewhon St"],"city":"PleasantVille","state":"Vic","postalCode":"3999"}],
	 "communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"fr"}]}},{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"nl"}]}}],
	 "generalPractitioner":[{"reference":"Practitioner/9"}],
	 "managingOrganization":{"reference":"http://example.org/fhir/Organization/1/_history/2"}}`
	observation = `{"resourceType":"Observation","id":"o1","status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	 "code":{"text":"Potassium","coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium [Moles/volume] in Serum or Plasma"}]},
	 "subject":{"reference":"Patient/123"},
	 "performer":[{"reference":"http://example.org/fhir/Practitioner/7"},{"reference":"https://other.example/fhir/Organization/5"},{"reference":"#c1"}],
	 "effectiveDateTime":"2013-01-14T10:00:00Z",
	 "valueQuantity":{"value":5.4,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}`
	condition = `{"resourceType":"Condition","id":"c1",
	 "code":{"text":"Headache","coding":[{"system":"http://acme.org/conditions/codes","code":"ha125","display":"Head ache"}]},
	 "subject":{"reference":"Group/g1"},
	 "onsetPeriod":{"start":"2013-01-21"}}`
	carePlanBefore = `{"resourceType":"CarePlan","id":"cp2","period":{"end":"2013-01-21"}}`
	carePlanAfter  = `{"resourceType":"CarePlan","id":"cp3","period":{"start":"2013-03-15"}}`
	risk           = `{"resourceType":"RiskAssessment","id":"r1","prediction":[{"probabilityDecimal":0.9},{"probabilityDecimal":0.05}]}`
	composition    = `{"resourceType":"Composition","id":"d1","section":[{"code":{"coding":[{"system":"http://loinc.org","code":"48765-2"}]}},{"code":{"coding":[{"system":"http://loinc.org","code":"10160-0"}]}}]}`
	valueSet       = `{"resourceType":"ValueSet","id":"123","url":"http://acme.org/fhir/ValueSet/123"}`
	valueSetOID    = `{"resourceType":"ValueSet","id":"oid","url":"urn:oid:1.2.3.4.5"}`
	encounter      = `{"resourceType":"Encounter","id":"e1","length":{"value":90,"unit":"min","system":"http://unitsofmeasure.org","code":"min"},
	 "period":{"start":"2015-08-12T05:00:00Z","end":"2015-08-12T06:30:00Z"}}`
	group        = `{"resourceType":"Group","id":"g1","characteristic":[{"code":{"text":"gender"},"valueBoolean":true}]}`
	medication   = `{"resourceType":"MedicationRequest","id":"m1","dosageInstruction":[{"timing":{"event":["2013-02-01T08:00:00Z","2013-02-03T08:00:00Z"]}}]}`
	library      = `{"resourceType":"Library","id":"l1","relatedArtifact":[{"resource":"http://acme.com/Library/a|1.0","type":"depends-on"},{"type":"composed-of","resource":"http://acme.com/Library/b|2.0"}]}`
	insurance    = `{"resourceType":"InsurancePlan","id":"i1","name":"Gold","alias":["Premium plan"]}`
	chargeItem   = `{"resourceType":"ChargeItem","id":"ci1","priceOverride":{"value":12.5,"currency":"EUR"}}`
	measureRange = `{"resourceType":"Library","id":"l2","useContext":[{"code":{"code":"age"},"valueRange":{"low":{"value":18,"unit":"a","system":"http://unitsofmeasure.org","code":"a"},"high":{"value":65,"unit":"a","system":"http://unitsofmeasure.org","code":"a"}}}]}`
)

type matchCase struct {
	name     string
	typ      string
	query    string
	resource string
	want     bool
}

func runMatch(t *testing.T, tests []matchCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.typ
			if typ == "" {
				typ = strings.SplitN(strings.SplitN(tc.resource, `"resourceType":"`, 2)[1], `"`, 2)[0]
			}
			q, err := Parse(typ, tc.query, opts)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			got, err := q.Match([]byte(tc.resource))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("%s?%s matched %v, want %v", typ, tc.query, got, tc.want)
			}
		})
	}
}

func TestTokenSearch(t *testing.T) {
	runMatch(t, []matchCase{
		// R4 search.html, token examples.
		{"identifier system|value", "", "identifier=http://acme.org/patient|2345", patient, true},
		{"identifier in another system", "", "identifier=http://other.org|2345", patient, false},
		{"code on a code element", "", "gender=male", patient, true},
		{"other code on a code element", "", "gender=female", patient, false},
		{"not: a code that is not there", "", "gender:not=female", patient, true},
		{"not: the code that is there", "", "gender:not=male", patient, false},
		{"not: an element that is missing matches", "Observation", "data-absent-reason:not=x", observation, true},
		{"not applies to the set (any section)", "", "section:not=48765-2", composition, false},
		{"section present", "", "section=48765-2", composition, true},
		{"boolean", "", "active=true", patient, true},
		{"boolean false", "", "active=false", patient, false},
		{"system|code on a CodeableConcept", "", "code=http://acme.org/conditions/codes|ha125", condition, true},
		{"code alone", "", "code=ha125", condition, true},
		{"code is case sensitive", "", "code=HA125", condition, false},
		{"system| any code", "", "code=http://acme.org/conditions/codes|", condition, true},
		{"|code needs no system", "", "code=|ha125", condition, false},
		{"|value on an identifier without system", "", "identifier=|no-system", patient, true},
		{"text on CodeableConcept.text", "", "code:text=headache", condition, true},
		{"text on Coding.display", "", "code:text=head ache", condition, true},
		{"text does not search codes", "", "code:text=ha125", condition, false},
		{"of-type", "", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", patient, true},
		{"of-type with another value", "", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|2345", patient, false},
		{"identifier text is Identifier.type.text", "", "identifier:text=medical", patient, true},
		{"ContactPoint value", "", "telecom=555-1234", patient, true},
		{"phone filters on ContactPoint.system", "", "phone=555-1234", patient, true},
		{"email is not the phone", "", "email=555-1234", patient, false},
		{"commas are ORed", "", "language=de,nl", patient, true},
		{"commas: none matches", "", "language=de,en", patient, false},
		{"repeated parameters are ANDed", "", "language=fr&language=nl", patient, true},
		{"repeated parameters: one fails", "", "language=fr&language=en", patient, false},
		{"escaped comma is a literal", "", `language=fr\,nl`, patient, false},
		{"_id", "", "_id=23", patient, true},
		{"_id is case sensitive", "Observation", "_id=O1", observation, false},
		{"_tag", "", "_tag=http://acme.org/codes|needs-review", patient, true},
		{"missing element never matches", "Observation", "method=x", observation, false},
		{"missing=true on an absent element", "Observation", "method:missing=true", observation, true},
		{"missing=false on a present element", "Observation", "code:missing=false", observation, true},
		{"missing=true on a present element", "Observation", "code:missing=true", observation, false},
		{"boolean in a choice", "", "value=true", group, true},
		{"SMART granular: laboratory", "", "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", observation, true},
		{"SMART granular: vital-signs", "", "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", observation, false},
	})
}

func TestStringSearch(t *testing.T) {
	runMatch(t, []matchCase{
		// R4: given=eve finds Eve and Evelyn; :contains finds Severine; :exact is exact.
		{"starts with, any case", "", "given=eve", patient, true},
		{"not a prefix", "", "given=lyn", patient, false},
		{"contains", "", "given:contains=lyn", patient, true},
		{"exact", "", "given:exact=Evelyn", patient, true},
		{"exact is case sensitive", "", "given:exact=evelyn", patient, false},
		{"exact is the whole string", "", "given:exact=Eve", patient, false},
		{"accents are ignored", "", "family=carreno quinones", patient, true},
		{"accents are ignored in the search value too", "", "family=CARREÑO", patient, true},
		{"exact keeps accents", "", "family:exact=Carreno Quinones", patient, false},
		{"HumanName: any part", "", "name=dr", patient, true},
		{"HumanName: family", "", "name=carr", patient, true},
		{"HumanName: not use", "", "name=official", patient, false},
		{"Address: city", "", "address=pleasant", patient, true},
		{"Address: line", "", "address=534", patient, true},
		{"Address: not use", "", "address=home", patient, false},
		{"address-city", "", "address-city=PleasantVille", patient, true},
		{"expression without the type name", "", "name=premium", insurance, true},
		{"missing", "", "title:missing=true", composition, true},
	})
}

func TestDateSearch(t *testing.T) {
	day := func(v string) string {
		return `{"resourceType":"Observation","id":"x","effectiveDateTime":"` + v + `"}`
	}
	runMatch(t, []matchCase{
		// R4 search.html, date prefixes.
		{"eq: 00:00 in the day", "Observation", "date=eq2013-01-14", day("2013-01-14T00:00:00Z"), true},
		{"eq: 10:00 in the day", "Observation", "date=eq2013-01-14", day("2013-01-14T10:00:00Z"), true},
		{"eq: the next day", "Observation", "date=eq2013-01-14", day("2013-01-15T00:00:00Z"), false},
		{"no prefix is eq", "Observation", "date=2013-01-14", day("2013-01-14T10:00:00Z"), true},
		{"ne: the next day", "Observation", "date=ne2013-01-14", day("2013-01-15T00:00:00Z"), true},
		{"ne: in the day", "Observation", "date=ne2013-01-14", day("2013-01-14T10:00:00Z"), false},
		{"lt: a day that starts before", "Observation", "date=lt2013-01-14T10:00Z", day("2013-01-14"), true},
		{"gt: a day that ends after", "Observation", "date=gt2013-01-14T10:00Z", day("2013-01-14"), true},
		{"gt: before", "Observation", "date=gt2013-01-14T10:00Z", day("2013-01-14T09:00:00Z"), false},
		{"ge: the instant itself", "Observation", "date=ge2013-01-14T10:00:00Z", day("2013-01-14T10:00:00Z"), true},
		{"ge: open period from 21 Jan", "", "date=ge2013-03-14", `{"resourceType":"CarePlan","period":{"start":"2013-01-21"}}`, true},
		{"le: open period from 21 Jan", "", "date=le2013-03-14", `{"resourceType":"CarePlan","period":{"start":"2013-01-21"}}`, true},
		{"sa: from 15 Mar", "", "date=sa2013-03-14", carePlanAfter, true},
		{"sa: from 21 Jan", "", "date=sa2013-03-14", `{"resourceType":"CarePlan","period":{"start":"2013-01-21"}}`, false},
		{"sa: until 21 Jan", "", "date=sa2013-03-14", carePlanBefore, false},
		{"eb: until 21 Jan", "", "date=eb2013-03-14", carePlanBefore, true},
		{"eb: from 15 Mar", "", "date=eb2013-03-14", carePlanAfter, false},
		{"eb: from 21 Jan", "", "date=eb2013-03-14", `{"resourceType":"CarePlan","period":{"start":"2013-01-21"}}`, false},
		{"ap: the date itself", "Observation", "date=ap2013-03-14", day("2013-03-14"), true},
		{"ap: near", "Observation", "date=ap2013-03-14", day("2013-01-21"), true},
		{"ap: far", "Observation", "date=ap2013-03-14", day("2015-06-15"), false},
		{"year precision", "", "birthdate=1974", patient, true},
		{"month precision", "", "birthdate=1974-11", patient, false},
		{"two-year range (ANDed)", "", "birthdate=ge1974-01-01&birthdate=le1975-12-31", patient, true},
		{"time zone offset", "Observation", "date=2013-01-14T11:00+01:00", day("2013-01-14T10:00:00Z"), true},
		{"instant is a point", "", "_lastUpdated=gt2010-10-01", patient, true},
		{"instant before", "", "_lastUpdated=lt2010-10-01", patient, false},
		{"Period onset", "", "onset-date=ge2013-02-01", condition, true},
	})
}

func TestTimingSearch(t *testing.T) {
	// CarePlan.activity.detail.scheduledTiming: events on 1 and 3 Feb
	// make the range 1–3 Feb; a day inside is in range (R4: the
	// details are ignored, only the outer limits matter).
	plan := `{"resourceType":"CarePlan","activity":[{"detail":{"scheduledTiming":{"event":["2013-02-01T08:00:00Z","2013-02-03T08:00:00Z"]}}}]}`
	runMatch(t, []matchCase{
		{"day between the events", "", "activity-date=ge2013-02-02&activity-date=le2013-02-02", plan, true},
		{"eq needs the range inside", "", "activity-date=eq2013-02-02", plan, false},
		{"after the last event", "", "activity-date=sa2013-02-04", plan, false},
		{"MedicationRequest date is the timing's events", "", "date=2013-02-03", medication, true},
		{"MedicationRequest date between events is not an event", "", "date=2013-02-02", medication, false},
	})
}

func TestNumberSearch(t *testing.T) {
	runMatch(t, []matchCase{
		// R4: gt0.8; 100 is [99.5, 100.5); lt/gt are exact.
		{"gt0.8", "", "probability=gt0.8", risk, true},
		{"exponent form", "", "probability=gt8e-1", risk, true},
		{"lt0.01", "", "probability=lt0.01", risk, false},
		{"implicit precision: 0.9 matches 0.90", "", "probability=0.90", risk, true},
		{"implicit precision: 0.05 in [0.045, 0.055)", "", "probability=0.05", risk, true},
		{"implicit precision: 0.1 covers 0.05? no, [0.05, 0.15)", "", "probability=0.1", risk, true},
		{"implicit precision: 0.10 is [0.095, 0.105)", "", "probability=0.10", risk, false},
		{"ne", "", "probability=ne0.9&probability=ne0.05", risk, true},
		{"ap within 10%", "", "probability=ap0.85", risk, true},
		{"sa", "", "probability=sa0.9", risk, false},
		{"eb", "", "probability=eb0.06", risk, true},
		// R4's table reads 1e2 as [95, 105), its rule of significant
		// figures as [50, 150): eq takes the finer range, ne the coarser.
		{"exponent form, eq: the finer range, 0.06 not in [0.095, 0.105)", "", "probability=1e-1", risk006, false},
		{"plain form, eq: 0.06 in [0.05, 0.15)", "", "probability=0.1", risk006, true},
		{"exponent form, eq: 0.06 in [0.0595, 0.0605)", "", "probability=6e-2", risk006, true},
		{"exponent form, ne: the coarser range, 0.06 in [0.05, 0.15)", "", "probability=ne1e-1", risk006, false},
		{"exponent form, ne: 0.2 outside [0.05, 0.15)", "", "probability=ne1e-1", risk02, true},
	})
}

// risk006 and risk02 are RiskAssessments of one probability.
const (
	risk006 = `{"resourceType":"RiskAssessment","id":"r2","prediction":[{"probabilityDecimal":0.06}]}`
	risk02  = `{"resourceType":"RiskAssessment","id":"r3","prediction":[{"probabilityDecimal":0.2}]}`
)

func TestQuantitySearch(t *testing.T) {
	runMatch(t, []matchCase{
		// R4 search.html, quantity examples.
		{"value|system|code", "", "value-quantity=5.4|http://unitsofmeasure.org|mg", observation, true},
		{"exponent form in another unit is not converted", "", "value-quantity=5.40e-3|http://unitsofmeasure.org|g", observation, false},
		{"||code matches code or unit", "", "value-quantity=5.4||mg", observation, true},
		{"value alone", "", "value-quantity=5.4", observation, true},
		{"le", "", "value-quantity=le5.4|http://unitsofmeasure.org|mg", observation, true},
		{"lt is exact", "", "value-quantity=lt5.4|http://unitsofmeasure.org|mg", observation, false},
		{"ap", "", "value-quantity=ap5|http://unitsofmeasure.org|mg", observation, true},
		{"other unit", "", "value-quantity=5.4|http://unitsofmeasure.org|g", observation, false},
		{"Duration", "", "length=gt60|http://unitsofmeasure.org|min", encounter, true},
		{"Money: currency as code", "", "factor-override=1", chargeItem, false},
		{"Range: inside", "", "context-quantity=ge30", measureRange, true},
		{"Range: eq needs the range inside", "", "context-quantity=50", measureRange, false},
		{"Range: sa", "", "context-quantity=sa10|http://unitsofmeasure.org|a", measureRange, true},
	})
}

// allergy and immunization name their patient through a "patient"
// element, whose shared R4 parameter (clinical-patient) also lists Group.
var (
	allergy      = `{"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/85"}}`
	immunization = `{"resourceType":"Immunization","id":"i1","status":"completed","vaccineCode":{"text":"x"},"patient":{"reference":"Patient/85"},"occurrenceDateTime":"2026-01-01"}`
)

func TestReferenceSearch(t *testing.T) {
	runMatch(t, []matchCase{
		{"Type/id", "", "subject=Patient/123", observation, true},
		{"other id", "", "subject=Patient/124", observation, false},
		{"an id of three dots is an id", "", "subject=Patient/...", observation, false},
		{"absolute URL on the base matches a relative reference", "", "subject=" + base + "/Patient/123", observation, true},
		{"relative value matches an absolute reference on the base", "", "performer=Practitioner/7", observation, true},
		{"absolute reference on another server", "", "performer=https://other.example/fhir/Organization/5", observation, true},
		{"a relative value is not another server's resource", "", "performer=Organization/5", observation, false},
		{"contained references are not searched", "", "performer=Practitioner/c1", observation, false},
		{"bare id with one target type", "", "patient=123", observation, true},
		{"bare patient id where the shared definition also lists Group", "", "patient=85", allergy, true},
		{"bare patient id, another patient", "", "patient=86", allergy, false},
		{"bare patient id on Immunization", "", "patient=85", immunization, true},
		{":Type modifier", "", "subject:Patient=123", observation, true},
		{":Type modifier, other type", "", "subject:Group=123", observation, false},
		{"patient only counts Patient references", "", "patient=g1", condition, false},
		{"subject is a Group", "", "subject=Group/g1", condition, true},
		{"version: any version matches", "", "organization=Organization/1", patient, true},
		{"version: that version", "", "organization=Organization/1/_history/2", patient, true},
		{"version: another version", "", "organization=Organization/1/_history/3", patient, false},
		{"canonical with version", "", "depends-on=http://acme.com/Library/a", library, true},
		{"canonical: filter on relatedArtifact.type", "", "depends-on=http://acme.com/Library/b", library, false},
		{"canonical: business version", "", "composed-of=http://acme.com/Library/b|2.0", library, true},
		{"canonical: other business version", "", "composed-of=http://acme.com/Library/b|1.0", library, false},
		{":identifier", "Observation", "subject:identifier=http://acme.org|1", `{"resourceType":"Observation","subject":{"identifier":{"system":"http://acme.org","value":"1"}}}`, true},
		{"missing", "", "general-practitioner:missing=false", patient, true},
	})
}

func TestURISearch(t *testing.T) {
	runMatch(t, []matchCase{
		// R4 search.html, uri examples.
		{"exact", "", "url=http://acme.org/fhir/ValueSet/123", valueSet, true},
		{"exact is whole", "", "url=http://acme.org/fhir/ValueSet/12", valueSet, false},
		{"below", "", "url:below=http://acme.org/fhir/", valueSet, true},
		{"above", "", "url:above=http://acme.org/fhir/ValueSet/123/_history/5", valueSet, true},
		{"above: another", "", "url:above=http://acme.org/fhir/ValueSet/124", valueSet, false},
		{"OID", "", "url=urn:oid:1.2.3.4.5", valueSetOID, true},
		{"below does not apply to URNs", "", "url:below=urn:oid:1.2", valueSetOID, false},
	})
}

func TestOtherTypeDoesNotMatch(t *testing.T) {
	q, err := Parse("Observation", "_id=23", opts)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := q.Match([]byte(patient)); ok || err != nil {
		t.Fatalf("a Patient matched an Observation search: %v, %v", ok, err)
	}
}

func TestNotEvaluatedIsAnError(t *testing.T) {
	tests := []struct {
		name, typ, query string
		want             error
	}{
		{"composite", "Observation", "code-value-quantity=http://loinc.org|2823-3$gt5.4", ErrUnsupported},
		{"chained", "Observation", "patient.birthdate=1990", ErrUnsupported},
		{"chained with type", "DiagnosticReport", "subject:Patient.name=peter", ErrUnsupported},
		{"_has", "Patient", "_has:Observation:patient:code=1234-5", ErrUnsupported},
		{"_filter", "Observation", "_filter=code eq x", ErrUnsupported},
		{"_text", "Condition", "_text=bone", ErrUnsupported},
		{"_content", "Condition", "_content=bone", ErrUnsupported},
		{"_list", "Patient", "_list=42", ErrUnsupported},
		{"_count", "Patient", "_count=10", ErrUnsupported},
		{"_sort", "Patient", "_sort=name", ErrUnsupported},
		{"special", "Location", "near=1|2|3|km", ErrUnsupported},
		{"expression not translated", "Patient", "deceased=true", ErrUnsupported},
		{"token :in", "Observation", "code:in=http://acme.org/fhir/ValueSet/cardiac", ErrUnsupported},
		{"token :below", "Condition", "code:below=126851005", ErrUnsupported},
		{"string :text", "Patient", "name:text=x", ErrUnsupported},
		{"reference :below", "Procedure", "location:below=42", ErrUnsupported},
		{"modifier of another type", "Patient", "gender:exact=male", ErrUnsupported},
		{"of-type without Identifier", "Patient", "gender:of-type=a|b|c", ErrUnsupported},
		{"system on a code element", "Patient", "gender=http://hl7.org/fhir/administrative-gender|male", ErrUnsupported},
		{"pipe on a ContactPoint", "Patient", "phone=x|555", ErrUnsupported},
		{"unknown parameter", "Patient", "nonsense=1", ErrInvalid},
		{"unknown type", "Nonsense", "_id=1", ErrInvalid},
		{"empty value", "Patient", "gender=", ErrInvalid},
		{"empty alternative", "Patient", "gender=male,", ErrInvalid},
		{"bad escape", "Patient", `gender=ma\le`, ErrInvalid},
		{"bad date", "Patient", "birthdate=23 May 2009", ErrInvalid},
		{"bad month", "Patient", "birthdate=2009-13", ErrInvalid},
		{"bad number", "RiskAssessment", "probability=gtx", ErrInvalid},
		{"huge exponent", "RiskAssessment", "probability=1e999999", ErrInvalid},
		{"quantity with two parts", "Observation", "value-quantity=5.4|mg", ErrInvalid},
		{"bare id, several target types", "Observation", "subject=123", ErrInvalid},
		{"id that is a dot-segment", "Observation", "subject=Patient/..", ErrInvalid},
		{"bare id that is a dot-segment", "Observation", "patient=.", ErrInvalid},
		{"id of 65 characters", "Observation", "subject=Patient/" + strings.Repeat("a", 65), ErrInvalid},
		{":Type with a path", "Observation", "subject:Patient=Patient/123", ErrInvalid},
		{"missing takes true or false", "Patient", "gender:missing=yes", ErrInvalid},
		{"of-type needs three parts", "Patient", "identifier:of-type=a|b", ErrInvalid},
		{"bad percent-encoding", "Patient", "gender=%zz", ErrInvalid},
		{"no parameter", "Patient", "", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.typ, tc.query, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%s, %q) = %v, %v; want %v", tc.typ, tc.query, q, err, tc.want)
			}
		})
	}
}

func TestMalformedResource(t *testing.T) {
	deep := `{"resourceType":"Observation","code":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`
	tests := []struct {
		name, query, resource string
	}{
		{"not JSON", "status=final", `{"resourceType":"Observation",`},
		{"trailing data", "status=final", `{"resourceType":"Observation"} {}`},
		{"no resourceType", "status=final", `{"status":"final"}`},
		{"resourceType twice", "status=final", `{"resourceType":"Observation","status":"final","resourceType":"Observation"}`},
		{"resourceType in another case", "status=final", `{"resourceType":"Observation","ResourceType":"Patient"}`},
		{"searched element twice", "status=final", `{"resourceType":"Observation","status":"final","status":"amended"}`},
		{"searched element in another case", "status=amended", `{"resourceType":"Observation","status":"final","Status":"amended"}`},
		{"searched element with a long s", "status=amended", `{"resourceType":"Observation","ſtatus":"amended"}`},
		{"escaped key", "status=final", `{"resourceType":"Observation","st\u0061tus":"final"}`},
		{"member of a Coding twice", "code=y", `{"resourceType":"Observation","code":{"coding":[{"code":"x","code":"y"}]}}`},
		{"member of a Coding in another case", "code=y", `{"resourceType":"Observation","code":{"coding":[{"code":"x","Code":"y"}]}}`},
		{"filter key twice", "email=a@b", `{"resourceType":"Patient","telecom":[{"system":"phone","value":"a@b","system":"email"}]}`},
		{"bad date in the resource", "date=2013", `{"resourceType":"Observation","effectiveDateTime":"yesterday"}`},
		{"deep nesting", "code=x", deep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := "Observation"
			if strings.Contains(tc.resource, `"Patient","telecom"`) {
				typ = "Patient"
			}
			ok, err := mustParse(t, typ, tc.query).Match([]byte(tc.resource))
			if ok || !errors.Is(err, ErrJSON) {
				t.Fatalf("Match = %v, %v; want ErrJSON", ok, err)
			}
		})
	}
}

func TestDeepNestingOffPathIsAnError(t *testing.T) {
	// Nesting far past the bound, on an element no path reads: an error,
	// not a stack overflow.
	r := `{"resourceType":"Observation","extension":` + strings.Repeat(`[{"x":`, 100000) + `1` + strings.Repeat(`}]`, 100000) + `}`
	q := mustParse(t, "Observation", "status=final")
	if ok, err := q.Match([]byte(r)); ok || !errors.Is(err, ErrJSON) {
		t.Fatalf("Match = %v, %v; want ErrJSON", ok, err)
	}
}

func mustParse(t *testing.T, typ, query string) *Query {
	t.Helper()
	q, err := Parse(typ, query, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestTextFieldsReadsAsFieldsThenText: TextFields, which reads each value
// once, gives what Fields followed by At and Text gave, and fails where
// they fail: a name twice, a key folding to a name, a value that is not
// JSON; a value that is not a string is absent.
func TestTextFieldsReadsAsFieldsThenText(t *testing.T) {
	for _, obj := range textFieldsSeeds {
		if msg := compareTextFields([]byte(obj)); msg != "" {
			t.Error(msg)
		}
	}
}

var textFieldsSeeds = []string{
	`{"system":"http://loinc.org","code":"2339-0"}`,
	`{"code":"a\u0062c","display":"x\"y","other":[1,{"a":"b"}]}`,
	`{"system":null,"code":12,"display":{"code":"x"}}`,
	`{}`,
	`{"code":"a","code":"b"}`,
	`{"code":"a","Code":"b"}`,
	`{"codſ":"a"}`,
	"{\"code\":\"a\x01\"}",
	`{"code":"a",}`,
	`{"system":"s" "code":"c"}`,
	`[{"code":"a"}]`,
	`{"system":"\ud800","code":"\u00e9"}`,
}

// compareTextFields reads the object data with TextFields and with
// Fields, At and Text, and says how they differ ("" when they agree).
func compareTextFields(data []byte) string {
	names := []string{"system", "code", "display"}
	old := cursor{fhirjson.NewCursor(data)}
	var offs [3]int
	old.Fields(0, names, offs[:])
	var want [3][]byte
	var wantOK [3]bool
	for i := range offs {
		want[i], wantOK[i] = value(&old, offs[i], 1)
	}
	c := cursor{fhirjson.NewCursor(data)}
	var got [3][]byte
	var gotOK [3]bool
	c.TextFields(0, names, got[:], gotOK[:])
	if c.Failed() != old.Failed() || c.End() != old.End() {
		return fmt.Sprintf("%q: failed %v end %v, Fields failed %v end %v", data, c.Failed(), c.End(), old.Failed(), old.End())
	}
	if c.Failed() {
		return ""
	}
	for i := range got {
		if gotOK[i] != wantOK[i] || string(got[i]) != string(want[i]) {
			return fmt.Sprintf("%q: %s = %q %v, want %q %v", data, names[i], got[i], gotOK[i], want[i], wantOK[i])
		}
	}
	return ""
}
