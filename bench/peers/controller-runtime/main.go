// A webhook on controller-runtime's webhook.Server and admission.Handler with
// the same two rules as kgateway-admission for the same view (examples/), so
// the bench can measure a Go webhook built the usual way beside ours:
//
//	kga-peer-controller-runtime --port N --cert-dir DIR --cert-name F --key-name F --manifests examples/
//
// POST /mutate, POST /validate (AdmissionReview v1), GET /readyz. One
// unsampled info line per decision on stdout, as ours logs at its default.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 9443, "HTTPS port")
	certDir := flag.String("cert-dir", "", "directory of the serving certificate and key")
	certName := flag.String("cert-name", "tls.crt", "certificate file in --cert-dir")
	keyName := flag.String("key-name", "tls.key", "key file in --cert-dir")
	manifests := flag.String("manifests", "", "directory of YAML manifests (GatewayClasses, ReferenceGrants) that make the view")
	flag.Parse()
	if *certDir == "" || *manifests == "" {
		fmt.Fprintln(os.Stderr, "--cert-dir and --manifests are required")
		os.Exit(2)
	}

	// controller-runtime's production zap samples (100 lines a second per
	// message, then 1 in 100): ours writes every decision, so this one must
	// too. Development mode is the option that turns the sampler off; the
	// encoder and level are set back to production's (JSON, info).
	logger := zap.New(
		zap.UseDevMode(true),
		zap.JSONEncoder(),
		zap.Level(zapcore.InfoLevel),
		zap.StacktraceLevel(zapcore.ErrorLevel),
		zap.WriteTo(os.Stdout),
	)

	view, err := loadView(*manifests)
	if err != nil {
		fmt.Fprintf(os.Stderr, "reading %s: %v\n", *manifests, err)
		os.Exit(1)
	}
	rules := defaultRules()

	server := webhook.NewServer(webhook.Options{
		Host:     *host,
		Port:     *port,
		CertDir:  *certDir,
		CertName: *certName,
		KeyName:  *keyName,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			// As ours (src/server/tls.ts): TLS 1.2 at least with only
			// forward-secret AEAD suites, HTTP/1.1 only (kubebuilder's
			// scaffold also turns HTTP/2 off, CVE-2023-44487).
			c.MinVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
				tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			}
			c.NextProtos = []string{"http/1.1"}
		}},
	})
	server.Register("/mutate", &webhook.Admission{Handler: &mutator{rules: rules, view: view, log: logger.WithName("mutate")}})
	server.Register("/validate", &webhook.Admission{Handler: &validator{rules: rules, view: view, log: logger.WithName("validate")}})
	server.Register("/readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := server.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "webhook server: %v\n", err)
		os.Exit(1)
	}
}
