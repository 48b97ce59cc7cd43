package main

import (
	"fmt"
	"sort"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
)

const (
	gatewayAPIGroup = "gateway.networking.k8s.io"
	kgatewayGroup   = "gateway.kgateway.dev"
	agentgwGroup    = "agentgateway.dev"
	skipAnnotation  = "kgateway-admission.dev/skip"
)

// Rules holds the settings of ours at its defaults (src/config, profile
// kgateway-v2.1): the same class names, controller names, parametersRef and
// backendRef table (src/rules/backendRefKinds.ts).
type Rules struct {
	GatewayClassNames      []string
	GatewayControllerNames []string
	ParametersRef          map[string]any
	// "group/kind" -> paths such as spec.accessLog[].grpcService.backendRef
	BackendRefPaths map[string][][]string
}

func defaultRules() Rules {
	httpSettings := []string{
		"accessLog[].grpcService.backendRef",
		"accessLog[].openTelemetry.grpcService.backendRef",
		"tracing.provider.openTelemetry.grpcService.backendRef",
	}
	promptGuard := func(prefix string) []string {
		return []string{
			prefix + ".ai.promptGuard.request[].webhook.backendRef",
			prefix + ".ai.promptGuard.response[].webhook.backendRef",
			prefix + ".mcp.authentication.jwks.backendRef",
		}
	}
	prefixed := func(prefix string, paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = prefix + p
		}
		return out
	}
	table := map[string][]string{
		kgatewayGroup + "/HTTPListenerPolicy": prefixed("spec.", httpSettings),
		kgatewayGroup + "/ListenerPolicy": append(
			prefixed("spec.default.httpSettings.", httpSettings),
			prefixed("spec.perPort[].listener.httpSettings.", httpSettings)...),
		kgatewayGroup + "/GatewayExtension": {
			"spec.extAuth.grpcService.backendRef",
			"spec.extAuth.httpService.backendRef",
			"spec.extProc.grpcService.backendRef",
			"spec.jwt.providers[].jwks.remote.backendRef",
			"spec.oauth2.backendRef",
			"spec.rateLimit.grpcService.backendRef",
		},
		agentgwGroup + "/AgentgatewayPolicy": append(promptGuard("spec.backend"),
			"spec.frontend.tracing.backendRef",
			"spec.traffic.extAuth.backendRef",
			"spec.traffic.extProc.backendRef",
			"spec.traffic.jwtAuthentication.providers[].jwks.remote.backendRef",
			"spec.traffic.rateLimit.global.backendRef",
		),
		agentgwGroup + "/AgentgatewayBackend": append(promptGuard("spec.policies"),
			"spec.ai.groups[].providers[].policies.ai.promptGuard.request[].webhook.backendRef",
			"spec.ai.groups[].providers[].policies.ai.promptGuard.response[].webhook.backendRef",
			"spec.mcp.targets[].static.policies.mcp.authentication.jwks.backendRef",
		),
	}
	compiled := map[string][][]string{}
	for key, paths := range table {
		for _, p := range paths {
			compiled[key] = append(compiled[key], strings.Split(p, "."))
		}
	}
	return Rules{
		GatewayClassNames:      []string{"agentgateway"},
		GatewayControllerNames: []string{"kgateway.dev/agentgateway"},
		ParametersRef:          map[string]any{"group": kgatewayGroup, "kind": "GatewayParameters", "name": "agentgateway-otel"},
		BackendRefPaths:        compiled,
	}
}

func handledOperation(operation string) bool { return operation == "CREATE" || operation == "UPDATE" }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func record(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func stringAt(m map[string]any, keys ...string) string {
	var cur any = m
	for _, k := range keys {
		r, ok := record(cur)
		if !ok {
			return ""
		}
		cur = r[k]
	}
	s, _ := cur.(string)
	return s
}

// ParametersRefPatch: a Gateway of an agentgateway class without
// spec.infrastructure.parametersRef gets one; `spec.infrastructure` is added
// whole only when absent (src/rules/gatewayParametersRef.ts).
func (r Rules) ParametersRefPatch(operation, group, kind string, object map[string]any, view *View) []jsonpatch.JsonPatchOperation {
	if !handledOperation(operation) || group != gatewayAPIGroup || kind != "Gateway" || object == nil {
		return nil
	}
	metadata, _ := record(object["metadata"])
	if metadata != nil && metadata["deletionTimestamp"] != nil {
		return nil
	}
	if stringAt(object, "metadata", "annotations", skipAnnotation) == "true" {
		return nil
	}
	spec, ok := record(object["spec"])
	if !ok {
		return nil
	}
	className, _ := spec["gatewayClassName"].(string)
	if !r.isAgentgatewayClass(className, view) {
		return nil
	}
	ref := map[string]any{}
	for k, v := range r.ParametersRef {
		ref[k] = v
	}
	infrastructure, ok := record(spec["infrastructure"])
	if !ok {
		return []jsonpatch.JsonPatchOperation{{Operation: "add", Path: "/spec/infrastructure", Value: map[string]any{"parametersRef": ref}}}
	}
	if infrastructure["parametersRef"] != nil {
		return nil
	}
	return []jsonpatch.JsonPatchOperation{{Operation: "add", Path: "/spec/infrastructure/parametersRef", Value: ref}}
}

func (r Rules) isAgentgatewayClass(className string, view *View) bool {
	if className == "" {
		return false
	}
	if contains(r.GatewayClassNames, className) {
		return true
	}
	controller, ok := view.GatewayClassControllers[className]
	return ok && contains(r.GatewayControllerNames, controller)
}

type backendRef struct {
	location                     string
	group, kind, namespace, name string
}

// valuesAt walks a path like spec.accessLog[].grpcService.backendRef, each
// `[]` segment going through every element of an array.
func valuesAt(v any, path []string, location string, out *[]backendRef, ownNamespace string) {
	if len(path) == 0 {
		if ref, ok := record(v); ok {
			str := func(key, fallback string) string {
				if s, ok := ref[key].(string); ok && s != "" {
					return s
				}
				return fallback
			}
			group, _ := ref["group"].(string)
			name, _ := ref["name"].(string)
			*out = append(*out, backendRef{location: location, group: group, kind: str("kind", "Service"), namespace: str("namespace", ownNamespace), name: name})
		}
		return
	}
	segment := path[0]
	each := strings.HasSuffix(segment, "[]")
	key := strings.TrimSuffix(segment, "[]")
	m, ok := record(v)
	if !ok {
		return
	}
	next := m[key]
	here := key
	if location != "" {
		here = location + "." + key
	}
	if !each {
		valuesAt(next, path[1:], here, out, ownNamespace)
		return
	}
	items, _ := next.([]any)
	for i, item := range items {
		valuesAt(item, path[1:], fmt.Sprintf("%s[%d]", here, i), out, ownNamespace)
	}
}

// CrossNamespaceDenial: a backendRef into another namespace needs a
// ReferenceGrant there that allows it (GEP-709;
// src/rules/crossNamespaceBackendRefs.ts). Returns the message and true to deny.
func (r Rules) CrossNamespaceDenial(operation, group, kind, requestNamespace string, object map[string]any, view *View) (string, bool) {
	paths, handled := r.BackendRefPaths[group+"/"+kind]
	if !handledOperation(operation) || !handled || object == nil {
		return "", false
	}
	metadata, _ := record(object["metadata"])
	if metadata != nil && metadata["deletionTimestamp"] != nil {
		return "", false
	}
	ownNamespace := stringAt(object, "metadata", "namespace")
	if ownNamespace == "" {
		ownNamespace = requestNamespace
	}
	if ownNamespace == "" {
		ownNamespace = "default"
	}
	var refs []backendRef
	for _, path := range paths {
		valuesAt(object, path, "", &refs, ownNamespace)
	}
	var missing []string
	for _, ref := range refs {
		if ref.namespace == ownNamespace || view.Granted(group, kind, ownNamespace, ref.group, ref.kind, ref.namespace, ref.name) {
			continue
		}
		target := ref.kind
		if ref.group != "" {
			target += "." + ref.group
		}
		missing = append(missing, fmt.Sprintf("- %s: %s %s/%s", ref.location, target, ref.namespace, ref.name))
	}
	if len(missing) == 0 {
		return "", false
	}
	sort.Strings(missing)
	name := stringAt(object, "metadata", "name")
	return fmt.Sprintf("%s %s/%s refers to objects in other namespaces that no ReferenceGrant allows:\n%s",
		kind, ownNamespace, name, strings.Join(missing, "\n")), true
}
