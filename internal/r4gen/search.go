package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// searchParam is one search parameter of one resource type in
// search/data/search-params.json.
type searchParam struct {
	Type string `json:"type"` // number, date, string, token, reference, quantity, uri, composite, special
	// Target is the one resource type a reference parameter can point at,
	// when there is one (given by the definition, or by a where(resolve()
	// is X) filter on every path): only then does a bare id mean X/id.
	Target string `json:"target,omitempty"`
	// Paths are element paths below the resource in JSON names (choice
	// elements resolved: "valueQuantity"), dot-separated, each ending in
	// ":" and the FHIR type of the element reached. A step may carry a
	// filter "[key=value]" (FHIRPath where(key='value')), and the last step
	// "@Type" (FHIRPath where(resolve() is Type)).
	Paths []string `json:"paths,omitempty"`
	// Unsupported, when set, says why the parameter cannot be evaluated:
	// it matches nothing.
	Unsupported string `json:"unsupported,omitempty"`
}

// deriveParams reduces the SearchParameters of bundle to search's data:
// resource type ("Resource" for DomainResource and Resource) → code →
// parameter, with the element types of the StructureDefinitions in
// typesFile and resourcesFile.
func deriveParams(bundle []searchParameter, typesFile, resourcesFile string) (map[string]map[string]searchParam, error) {
	defs, err := loadDefinitions(typesFile, resourcesFile)
	if err != nil {
		return nil, err
	}
	res := map[string]map[string]searchParam{}
	for _, sp := range bundle {
		for _, base := range sp.Base {
			if base == "DomainResource" {
				base = "Resource"
			}
			p := translate(defs, base, sp.Type, sp.Expression)
			if sp.Type == "reference" && p.Unsupported == "" {
				p.Target = singleTarget(sp.Target, p.Paths)
				if sp.Code == "patient" {
					// Every R4 "patient" parameter selects references
					// to a Patient: its element is a Reference(Patient)
					// or its expression filters on Patient, even where
					// the shared definition (clinical-patient) lists
					// Group among its targets. So a bare id means a
					// Patient, as test kits send it ("patient=85").
					p.Target = "Patient"
				}
			}
			if res[base] == nil {
				res[base] = map[string]searchParam{}
			}
			res[base][sp.Code] = p
		}
	}
	return res, nil
}

// translate turns the FHIRPath expression of a parameter into element
// paths of base. It understands "T.a.b", unions with "|", casts
// ("(T.a as X)", "T.a.as(X)", "T.a.ofType(X)"), "where(resolve() is X)",
// "where(k='v')" and choice elements (expanded to every type the search
// type can use). Any other part makes the parameter unsupported.
func translate(defs *definitions, base, typ, expr string) searchParam {
	p := searchParam{Type: typ}
	switch typ {
	case "composite", "special":
		p.Unsupported = typ + " parameters are not evaluated"
		return p
	}
	if strings.TrimSpace(expr) == "" {
		p.Unsupported = "no FHIRPath expression"
		return p
	}
	for part := range strings.SplitSeq(expr, "|") {
		part = strings.TrimSpace(part)
		steps, ok := parseSteps(part)
		if !ok {
			p.Unsupported = "expression not translated: " + part
			p.Paths = nil
			return p
		}
		switch {
		case steps[0] == base:
			steps = steps[1:]
		case defs.kinds[steps[0]] == "resource":
			continue // a part for another base type
		default:
			// "name | alias" (InsurancePlan): relative to base.
		}
		paths, err := defs.resolve(base, steps, typ)
		if err != "" {
			p.Unsupported = err + ": " + part
			p.Paths = nil
			return p
		}
		for _, path := range paths {
			if !slices.Contains(p.Paths, path) {
				p.Paths = append(p.Paths, path)
			}
		}
	}
	if len(p.Paths) == 0 && p.Unsupported == "" {
		p.Unsupported = "no element of this type in: " + expr
	}
	return p
}

// singleTarget returns the one type the references of a parameter can
// point at, or "".
func singleTarget(targets, paths []string) string {
	filter := ""
	for i, p := range paths {
		_, f, ok := strings.Cut(strings.TrimSuffix(p, ":Reference"), "@")
		if !ok || i > 0 && f != filter {
			filter = ""
			break
		}
		filter = f
	}
	if filter != "" {
		return filter
	}
	if len(targets) == 1 {
		return targets[0]
	}
	return ""
}

// parseSteps splits one part of a union into steps, rewriting
// "(A as X).rest" to "A.as(X).rest".
func parseSteps(part string) ([]string, bool) {
	if inner, ok := strings.CutPrefix(part, "("); ok {
		end := strings.IndexByte(inner, ')')
		if end < 0 {
			return nil, false
		}
		path, cast, ok := strings.Cut(inner[:end], " as ")
		if !ok || !name(cast) {
			return nil, false
		}
		part = path + ".as(" + cast + ")" + inner[end+1:]
	}
	var steps []string
	depth, start := 0, 0
	for i := 0; i < len(part); i++ {
		switch part[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 {
				steps = append(steps, part[start:i])
				start = i + 1
			}
		}
	}
	steps = append(steps, part[start:])
	for _, s := range steps {
		if s == "" {
			return nil, false
		}
	}
	return steps, depth == 0 && name(steps[0])
}

func name(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// usable lists, per search type, the FHIR types R4 lets it search
// (search.html, "Search Types and FHIR Types"). notSearched are types R4
// says are not used in search: a path reaching one is dropped, as it can
// never match.
var (
	usable = map[string][]string{
		"number":    {"decimal", "integer", "positiveInt", "unsignedInt"},
		"date":      {"date", "dateTime", "instant", "Period", "Timing"},
		"string":    {"string", "markdown", "HumanName", "Address"},
		"token":     {"Coding", "CodeableConcept", "Identifier", "ContactPoint", "code", "boolean", "uri", "string", "id"},
		"reference": {"Reference", "canonical", "uri"},
		"quantity":  {"Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity", "Money", "Range"},
		"uri":       {"uri", "url", "canonical", "oid", "uuid"},
	}
	notSearched = []string{"SampledData", "Ratio", "Annotation", "Attachment", "Signature", "base64Binary", "time", "Reference", "Resource"}
)

type element struct {
	Path       string `json:"path"`
	ContentRef string `json:"contentReference"`
	Type       []struct {
		Code      string `json:"code"`
		Extension []struct {
			URL      string `json:"url"`
			ValueURL string `json:"valueUrl"`
		} `json:"extension"`
	} `json:"type"`
}

type definitions struct {
	elems map[string]element // full element path ("Patient.name", "HumanName.family") → element
	kinds map[string]string  // type name → kind (resource, complex-type, primitive-type)
}

func loadDefinitions(files ...string) (*definitions, error) {
	d := &definitions{elems: map[string]element{}, kinds: map[string]string{}}
	for _, f := range files {
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
					ID           string `json:"id"`
					Kind         string `json:"kind"`
					Derivation   string `json:"derivation"`
					Snapshot     struct {
						Element []element `json:"element"`
					} `json:"snapshot"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err := readJSON(f, &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			sd := e.Resource
			if sd.ResourceType != "StructureDefinition" || sd.Derivation == "constraint" {
				continue
			}
			d.kinds[sd.ID] = sd.Kind
			for _, el := range sd.Snapshot.Element {
				d.elems[el.Path] = el
			}
		}
	}
	if len(d.elems) == 0 {
		return nil, fmt.Errorf("no StructureDefinitions in %v", files)
	}
	return d, nil
}

// typeCode returns a type's code, mapping FHIRPath system types to the
// FHIR type they stand for.
func typeCode(el element, i int) string {
	t := el.Type[i]
	if strings.HasPrefix(t.Code, "http://hl7.org/fhirpath/System.") {
		if strings.HasSuffix(el.Path, ".id") && strings.Count(el.Path, ".") == 1 {
			return "id" // Resource.id
		}
		for _, x := range t.Extension {
			if x.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" {
				return x.ValueURL
			}
		}
		return "string"
	}
	return t.Code
}

type walkState struct {
	prefix string // element path the next name is looked up under
	json   string // JSON path so far
	typ    string // FHIR type of the element reached
}

// resolve walks steps from the resource type base and returns the
// resulting JSON paths with their leaf types, or an error text.
func (d *definitions) resolve(base string, steps []string, searchType string) ([]string, string) {
	states := []walkState{{prefix: base, typ: base}}
	for i := 0; i < len(steps); i++ {
		step := steps[i]
		var next []walkState
		switch {
		case strings.HasPrefix(step, "as(") || strings.HasPrefix(step, "ofType("):
			cast := step[strings.IndexByte(step, '(')+1 : len(step)-1]
			for _, st := range states {
				if st.typ == cast {
					next = append(next, st)
				}
			}
		case step == "where(resolve() is "+strings.TrimPrefix(strings.TrimSuffix(step, ")"), "where(resolve() is ")+")":
			target := strings.TrimSuffix(strings.TrimPrefix(step, "where(resolve() is "), ")")
			if !name(target) {
				return nil, "filter not translated"
			}
			for _, st := range states {
				if st.typ != "Reference" || strings.Contains(st.json, "@") {
					return nil, "resolve() filter not on a Reference"
				}
				st.json += "@" + target
				next = append(next, st)
			}
		case strings.HasPrefix(step, "where(") && strings.HasSuffix(step, "')"):
			k, v, ok := strings.Cut(step[len("where("):len(step)-2], "='")
			if !ok || !name(k) || strings.ContainsAny(v, "'[]=.@:") {
				return nil, "filter not translated"
			}
			for _, st := range states {
				if strings.HasSuffix(st.json, "]") || strings.Contains(st.json, "@") {
					return nil, "filter not translated"
				}
				st.json += "[" + k + "=" + v + "]"
				next = append(next, st)
			}
		case name(step):
			for _, st := range states {
				ns, err := d.child(st, step, steps[i+1:], searchType)
				if err != "" {
					return nil, err
				}
				next = append(next, ns...)
			}
		default:
			return nil, "expression not translated"
		}
		states = next
	}
	var out []string
	for _, st := range states {
		switch {
		case slices.Contains(usable[searchType], st.typ):
			out = append(out, st.json[1:]+":"+st.typ)
		case slices.Contains(notSearched, st.typ):
			// R4: not used in search; never matches.
		default:
			return nil, "element of type " + st.typ + " not searchable as " + searchType
		}
	}
	return out, ""
}

// child steps from st into its element called name, expanding a choice
// element into one state per type (or the one a following cast names).
func (d *definitions) child(st walkState, name string, rest []string, searchType string) ([]walkState, string) {
	if d.kinds[st.typ] == "primitive-type" {
		return nil, "step into primitive " + st.typ
	}
	el, ok := d.elems[st.prefix+"."+name]
	choice := false
	if !ok {
		el, ok = d.elems[st.prefix+"."+name+"[x]"]
		choice = true
	}
	if !ok {
		return nil, "no element " + st.prefix + "." + name
	}
	prefix := el.Path
	if el.ContentRef != "" {
		ref, ok := d.elems[strings.TrimPrefix(el.ContentRef, "#")]
		if !ok {
			return nil, "bad contentReference " + el.ContentRef
		}
		prefix, el.Type = ref.Path, ref.Type
	}
	var out []walkState
	for i := range el.Type {
		t := typeCode(el, i)
		js := name
		if choice {
			if len(rest) > 0 && (strings.HasPrefix(rest[0], "as(") || strings.HasPrefix(rest[0], "ofType(")) {
				cast := rest[0][strings.IndexByte(rest[0], '(')+1 : len(rest[0])-1]
				if cast != t {
					continue
				}
			} else if len(rest) == 0 && !slices.Contains(usable[searchType], t) {
				// A choice type the search type cannot use
				// (Procedure.performed as string for a date):
				// it never matches.
				continue
			}
			js = name + strings.ToUpper(t[:1]) + t[1:]
		}
		next := walkState{json: st.json + "." + js, typ: t}
		switch t {
		case "BackboneElement", "Element":
			next.prefix = prefix
		default:
			next.prefix = t
		}
		out = append(out, next)
	}
	return out, ""
}

// compact renders the parameters one a line, sorted, so that a diff of
// the data shows what changed.
func compact(res map[string]map[string]searchParam) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, typ := range sortedKeys(res) {
		fmt.Fprintf(&b, "%q: {\n", typ)
		for j, code := range sortedKeys(res[typ]) {
			line, _ := json.Marshal(res[typ][code])
			fmt.Fprintf(&b, " %q: %s", code, line)
			if j < len(res[typ])-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteByte('}')
		if i < len(res)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// generateSearch writes search/tables.go from search/data/search-params.json
// (dir is search's directory).
func generateSearch(dir string) error {
	var sp map[string]map[string]searchParam
	if err := readJSON(filepath.Join(dir, "data", "search-params.json"), &sp); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/r4gen from data/search-params.json; DO NOT EDIT.\n\n")
	b.WriteString("// Sources (see data/README.md): FHIR R4 4.0.1 SearchParameter definitions\n")
	b.WriteString("// (hl7.fhir.r4.core#4.0.1) as copied in microsoft/fhir-server @\n")
	b.WriteString("// a215a8078c644816964ea3f81e6b94ad415a839f, and the element types of the\n")
	b.WriteString("// FHIR R4 4.0.1 StructureDefinitions.\n\n")
	b.WriteString("package search\n\n")
	b.WriteString("// defs: R4 search parameters, resource type (\"Resource\" for those of\n// every type) → code → definition.\n")
	b.WriteString("var defs = map[string]map[string]def{\n")
	for _, typ := range sortedKeys(sp) {
		fmt.Fprintf(&b, "%q: {\n", typ)
		for _, code := range sortedKeys(sp[typ]) {
			p := sp[typ][code]
			fmt.Fprintf(&b, "%q: {kind: %s", code, kindName(p.Type))
			if p.Target != "" {
				fmt.Fprintf(&b, ", target: %q", p.Target)
			}
			if len(p.Paths) > 0 {
				fmt.Fprintf(&b, ", paths: []string%s", list(p.Paths))
			}
			if p.Unsupported != "" {
				fmt.Fprintf(&b, ", unsupported: %q", p.Unsupported)
			}
			b.WriteString("},\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tables.go"), src, 0o644)
}

func kindName(t string) string {
	switch t {
	case "number", "date", "string", "token", "reference", "quantity", "uri", "composite", "special":
		return "k" + strings.ToUpper(t[:1]) + t[1:]
	}
	return "kSpecial"
}
