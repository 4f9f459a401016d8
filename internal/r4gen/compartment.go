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

// Besides the R4 patient compartment, compartment's tables hold the
// patient-linked types: the types outside CompartmentDefinition/patient
// that have a reference search parameter able to point at a Patient
// through a Reference element (Device.patient, Task.owner, ...), with
// those parameters as their compartment parameters, and Binary, whose
// securityContext no R4 search parameter indexes (see linkedExtra).

// pathParam is one search parameter of one resource type in
// compartment/data/search-paths.json.
type pathParam struct {
	Kind    string   `json:"kind"`              // "reference" or "token"
	Targets []string `json:"targets,omitempty"` // reference target types
	// Paths are element paths below the resource, dot-separated, such as
	// "participant.actor". A path ending in "@Patient" only counts for
	// references to a Patient (FHIRPath "where(resolve() is Patient)").
	Paths []string `json:"paths"`
}

// notLinked are types never made patient-linked, whatever their
// parameters: the engine checks the resources inside a stored Bundle
// itself, and an ImplementationGuide is a conformance resource, which
// names the example resources of a guide, not a patient's record.
var notLinked = map[string]bool{"Bundle": true, "ImplementationGuide": true}

// deriveSearchPaths keeps, from the R4 SearchParameters of bundle: every
// token parameter; the reference parameters of the patient compartment
// (compartmentFile) and "patient" where it can point at a Patient; and, for
// a type outside the compartment, every reference parameter that can point
// at a Patient, with only its paths that reach a Reference element
// (elems, search's reduction of the same Bundle, gives the element
// types): a canonical never names a Patient, so Library's "depends-on",
// which reaches the canonical Library.library, does not link Library to
// patients. It writes the result to out.
func deriveSearchPaths(bundle []searchParameter, compartmentFile string, elems map[string]map[string]searchParam, out string) error {
	var comp map[string][]string
	if err := readJSON(compartmentFile, &comp); err != nil {
		return err
	}
	res := map[string]map[string]pathParam{}
	for _, sp := range bundle {
		for _, typ := range sp.Base {
			keep, linked := false, false
			switch sp.Type {
			case "token":
				keep = true
			case "reference":
				// The compartment's own parameters, and "patient" where
				// it can point at a Patient (used to restrict searches).
				keep = slices.Contains(comp[typ], sp.Code) ||
					sp.Code == "patient" && comp[typ] != nil && slices.Contains(sp.Target, "Patient")
				// Outside the compartment: whatever can point at a
				// Patient links the type to patients.
				linked = comp[typ] == nil && !notLinked[typ] && slices.Contains(sp.Target, "Patient")
				keep = keep || linked
			}
			if !keep {
				continue
			}
			paths := pathsFor(typ, sp.Expression)
			if linked {
				var err error
				if paths, err = referencePaths(elems[typ][sp.Code].Paths, typ, sp.Code, paths); err != nil {
					return err
				}
			}
			if len(paths) == 0 {
				continue
			}
			if res[typ] == nil {
				res[typ] = map[string]pathParam{}
			}
			p := pathParam{Kind: sp.Type, Paths: paths}
			if sp.Type == "reference" {
				p.Targets = sp.Target
			}
			res[typ][sp.Code] = p
		}
	}
	b, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// referencePaths returns the paths of typ's parameter code that reach a
// Reference element, per typed, the parameter's paths in package search's
// notation ("subject@Patient:Reference", "library:canonical").
func referencePaths(typed []string, typ, code string, paths []string) ([]string, error) {
	var out []string
	for _, path := range paths {
		found := false
		for _, t := range typed {
			p, elemType, ok := strings.Cut(t, ":")
			if !ok || p != path {
				continue
			}
			found = true
			if elemType == "Reference" {
				out = append(out, path)
			}
			break
		}
		if !found {
			return nil, fmt.Errorf("%s.%s: no element type for path %q", typ, code, path)
		}
	}
	return out, nil
}

// pathsFor returns the simple element paths of typ in a FHIRPath
// expression: "T.a.b", "T.a.where(resolve() is Patient)" (kept as
// "a@Patient") and "(T.a as Type)" (kept as "aType"). Anything else is left
// out: a parameter without a path is unsupported and matches nothing.
func pathsFor(typ, expr string) []string {
	var out []string
	for part := range strings.SplitSeq(expr, "|") {
		part = strings.TrimSpace(part)
		if inner, ok := strings.CutPrefix(part, "("); ok {
			inner, ok = strings.CutSuffix(inner, ")")
			if !ok {
				continue
			}
			path, cast, ok := strings.Cut(inner, " as ")
			if !ok || !simple(cast) {
				continue
			}
			part = path + strings.ToUpper(cast[:1]) + cast[1:]
		}
		rest, ok := strings.CutPrefix(part, typ+".")
		if !ok {
			continue
		}
		filter := ""
		if p, ok := strings.CutSuffix(rest, ".where(resolve() is Patient)"); ok {
			rest, filter = p, "@Patient"
		}
		if !simple(rest) {
			continue
		}
		out = append(out, rest+filter)
	}
	return out
}

func simple(path string) bool {
	if path == "" {
		return false
	}
	for _, c := range path {
		if !(c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// generateCompartment writes compartment/tables.go from compartment/data
// (dir is compartment's directory).
func generateCompartment(dir string) error {
	var comp map[string][]string
	if err := readJSON(filepath.Join(dir, "data", "patient-compartment.json"), &comp); err != nil {
		return err
	}
	var sp map[string]map[string]pathParam
	if err := readJSON(filepath.Join(dir, "data", "search-paths.json"), &sp); err != nil {
		return err
	}
	linked, err := linkedParams(comp, sp)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/r4gen from data/*.json; DO NOT EDIT.\n\n")
	b.WriteString("// Sources (see data/README.md): FHIR R4 4.0.1 CompartmentDefinition/patient and\n")
	b.WriteString("// SearchParameter definitions (hl7.fhir.r4.core#4.0.1), as copied in\n")
	b.WriteString("// microsoft/fhir-server @ a215a8078c644816964ea3f81e6b94ad415a839f,\n")
	b.WriteString("// src/Microsoft.Health.Fhir.Core/Data/R4/{compartment,search-parameters}.json.\n\n")
	b.WriteString("package compartment\n\n")
	b.WriteString("// patientParams: FHIR R4 CompartmentDefinition/patient, type → parameter codes.\n")
	b.WriteString("var patientParams = map[string][]string{\n")
	for _, typ := range sortedKeys(comp) {
		fmt.Fprintf(&b, "%q: %s,\n", typ, list(comp[typ]))
	}
	b.WriteString("}\n\n// linkedParams: the patient-linked types (outside CompartmentDefinition/patient,\n")
	b.WriteString("// with reference search parameters that can point at a Patient, and Binary),\n")
	b.WriteString("// type → the codes of those parameters.\n")
	b.WriteString("var linkedParams = map[string][]string{\n")
	for _, typ := range sortedKeys(linked) {
		fmt.Fprintf(&b, "%q: %s,\n", typ, list(linked[typ]))
	}
	b.WriteString("}\n\n// unsearchable: parameters of linkedParams that no R4 search parameter defines.\n")
	b.WriteString("var unsearchable = map[string][]string{\n")
	for _, typ := range sortedKeys(linkedExtra) {
		fmt.Fprintf(&b, "%q: %s,\n", typ, list(sortedKeys(linkedExtra[typ])))
	}
	b.WriteString("}\n\n// params: R4 search parameters, type → code → parameter.\nvar params = map[string]map[string]Param{\n")
	for _, typ := range sortedKeys(sp) {
		fmt.Fprintf(&b, "%q: {\n", typ)
		for _, code := range sortedKeys(sp[typ]) {
			p := sp[typ][code]
			patientOnly := p.Kind == "reference"
			var paths []string
			for _, path := range p.Paths {
				if !strings.HasSuffix(path, "@Patient") {
					patientOnly = false
				}
				paths = append(paths, path)
			}
			// Every R4 "patient" parameter selects references to a
			// Patient: its element is a Reference(Patient) or its
			// expression filters on Patient, even where the shared
			// definition lists Group among its targets.
			if len(p.Targets) == 1 && p.Targets[0] == "Patient" || p.Kind == "reference" && code == "patient" {
				patientOnly = true
			}
			fmt.Fprintf(&b, "%q: {Reference: %v, PatientOnly: %v, Paths: []string%s},\n", code, p.Kind == "reference", patientOnly, list(paths))
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

// linkedExtra are the patient-linked parameters no R4 search parameter
// defines. They decide membership (and guard patches) but cannot restrict
// a search. Binary.securityContext, a Reference(Any), names the resource
// whose access rules the Binary follows: only a Patient there makes the
// Binary that patient's ("@Patient"); a DocumentReference there does not.
var linkedExtra = map[string]map[string]pathParam{
	"Binary": {"securityContext": {Kind: "reference", Targets: []string{"Patient"}, Paths: []string{"securityContext@Patient"}}},
}

// linkedParams returns the patient-linked types with their compartment
// parameters: each type outside the compartment (comp) with reference
// parameters in sp that can point at a Patient (deriveSearchPaths kept
// only those, with the paths that reach a Reference), and linkedExtra,
// which it adds to sp.
func linkedParams(comp map[string][]string, sp map[string]map[string]pathParam) (map[string][]string, error) {
	linked := map[string][]string{}
	for typ, ps := range sp {
		if comp[typ] != nil || notLinked[typ] {
			continue
		}
		for _, code := range sortedKeys(ps) {
			if p := ps[code]; p.Kind == "reference" && slices.Contains(p.Targets, "Patient") {
				linked[typ] = append(linked[typ], code)
			}
		}
	}
	for typ, ps := range linkedExtra {
		if comp[typ] != nil || linked[typ] != nil {
			return nil, fmt.Errorf("%s: linkedExtra for a type the data links already", typ)
		}
		if sp[typ] == nil {
			sp[typ] = map[string]pathParam{}
		}
		for _, code := range sortedKeys(ps) {
			if _, ok := sp[typ][code]; ok {
				return nil, fmt.Errorf("%s.%s: linkedExtra shadows an R4 search parameter", typ, code)
			}
			sp[typ][code] = ps[code]
			linked[typ] = append(linked[typ], code)
		}
	}
	return linked, nil
}
