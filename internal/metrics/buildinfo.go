package metrics

import "github.com/prometheus/client_golang/prometheus"

// NewBuildInfo registers pacer_build_info, always 1, whose labels say which
// build is running: its version, git commit and Go release. A dashboard
// joins on it to see when a replica was upgraded.
func NewBuildInfo(r *Registry, version, commit, goVersion string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "pacer_build_info",
		Help:        "The running build: always 1, labelled with its version, git commit and Go release.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "go_version": goVersion},
	})
	g.Set(1)
	r.MustRegister(g)
}
