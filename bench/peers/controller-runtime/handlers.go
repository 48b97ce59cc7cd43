package main

import (
	"context"
	"encoding/json"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// decodeObject reads the request's object as generic JSON, as ours reads it:
// the rules look at a few fields of kinds this module has no Go types for.
func decodeObject(req admission.Request) (map[string]any, error) {
	if len(req.Object.Raw) == 0 {
		return nil, nil
	}
	var object map[string]any
	if err := json.Unmarshal(req.Object.Raw, &object); err != nil {
		return nil, err
	}
	return object, nil
}

func logDecision(log logr.Logger, req admission.Request, decision string) {
	log.Info("admission decision",
		"uid", req.UID,
		"kind", req.Kind.Kind,
		"namespace", req.Namespace,
		"name", req.Name,
		"operation", req.Operation,
		"decision", decision,
	)
}

type mutator struct {
	rules Rules
	view  *View
	log   logr.Logger
}

func (m *mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	object, err := decodeObject(req)
	if err != nil {
		// Mutation only adds defaults: admit unchanged and say why, as ours does.
		logDecision(m.log, req, "error")
		resp := admission.Allowed("")
		resp.Warnings = []string{"could not evaluate this object (" + err.Error() + "); admitted unchanged"}
		return resp
	}
	patch := m.rules.ParametersRefPatch(string(req.Operation), req.Kind.Group, req.Kind.Kind, object, m.view)
	if len(patch) == 0 {
		logDecision(m.log, req, "allowed")
		return admission.Allowed("")
	}
	logDecision(m.log, req, "patched")
	return admission.Patched("", patch...)
}

type validator struct {
	rules Rules
	view  *View
	log   logr.Logger
}

func (v *validator) Handle(_ context.Context, req admission.Request) admission.Response {
	object, err := decodeObject(req)
	if err != nil {
		// Validation fails closed.
		logDecision(v.log, req, "error")
		return admission.Errored(500, err)
	}
	message, denied := v.rules.CrossNamespaceDenial(string(req.Operation), req.Kind.Group, req.Kind.Kind, req.Namespace, object, v.view)
	if denied {
		logDecision(v.log, req, "denied")
		return admission.Denied(message)
	}
	logDecision(v.log, req, "allowed")
	return admission.Allowed("")
}
