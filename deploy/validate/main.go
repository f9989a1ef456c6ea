// Command validate-manifests renders Modelgate's kustomizations (as `kustomize build` does) and
// checks them offline against the Kubernetes API types: every object is decoded strictly (an
// unknown or misspelt field is an error) into its typed Go struct from k8s.io/api, then a few
// rules of the deployment are checked (docs/kubernetes.md, "Validation").
//
// Usage: validate-manifests [-print] <kustomization directory>...
//
// Exit status 0 when every directory renders and passes, 1 with one line per problem otherwise.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// apiOnlyVariables may be set in the API's environment only (src/config.ts, API_ONLY_VARIABLES).
var apiOnlyVariables = []string{"AUTH_JWT_SECRET", "DASHBOARD_DEV_SIGN_IN", "DEV_SIGN_IN_SECRET"}

// rendered is one kustomization's objects, decoded into their types.
type rendered struct {
	deployments []*appsv1.Deployment
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	jobs        []*batchv1.Job
}

func main() {
	print := flag.Bool("print", false, "print the rendered YAML of each directory (as kustomize build)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: validate-manifests [-print] <kustomization directory>...")
		os.Exit(2)
	}
	failed := false
	for _, dir := range flag.Args() {
		problems := validateDir(dir, *print)
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", dir, p)
		}
		if len(problems) > 0 {
			failed = true
		} else {
			fmt.Fprintf(os.Stderr, "%s: ok\n", dir)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// validateDir renders dir with kustomize, decodes each object strictly and checks the rules.
func validateDir(dir string, print bool) []string {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return []string{fmt.Sprintf("kustomize build failed: %v", err)}
	}
	var problems []string
	var r rendered
	for _, res := range resources.Resources() {
		data, err := res.AsYAML()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", res.CurId(), err))
			continue
		}
		if print {
			fmt.Printf("---\n%s", data)
		}
		name := fmt.Sprintf("%s %s", res.GetKind(), res.GetName())
		if err := decode(res.GetApiVersion(), res.GetKind(), data, &r); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return append(problems, checkRules(&r)...)
}

// decode decodes one object strictly into its type (unknown fields are errors).
func decode(apiVersion, kind string, data []byte, r *rendered) error {
	strict := func(into interface{}) error {
		if err := yaml.UnmarshalStrict(data, into); err != nil {
			return fmt.Errorf("does not match the %s %s type: %v", apiVersion, kind, err)
		}
		return nil
	}
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		var d appsv1.Deployment
		if err := strict(&d); err != nil {
			return err
		}
		r.deployments = append(r.deployments, &d)
	case "policy/v1/PodDisruptionBudget":
		var p policyv1.PodDisruptionBudget
		if err := strict(&p); err != nil {
			return err
		}
		r.pdbs = append(r.pdbs, &p)
	case "autoscaling/v2/HorizontalPodAutoscaler":
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := strict(&h); err != nil {
			return err
		}
		r.hpas = append(r.hpas, &h)
	case "batch/v1/Job":
		var j batchv1.Job
		if err := strict(&j); err != nil {
			return err
		}
		r.jobs = append(r.jobs, &j)
	case "v1/Service":
		return strict(&corev1.Service{})
	case "v1/ConfigMap":
		return strict(&corev1.ConfigMap{})
	case "v1/PersistentVolumeClaim":
		return strict(&corev1.PersistentVolumeClaim{})
	case "v1/ServiceAccount":
		return strict(&corev1.ServiceAccount{})
	case "networking.k8s.io/v1/NetworkPolicy":
		return strict(&networkingv1.NetworkPolicy{})
	default:
		return fmt.Errorf("kind %s %s is not one the validator knows; add its type to deploy/validate/main.go", apiVersion, kind)
	}
	return nil
}

// checkRules checks what strict decoding cannot: probes, resources, disruption budgets, the API's
// autoscaler, and that each process holds only its own secrets.
func checkRules(r *rendered) []string {
	var problems []string
	add := func(format string, args ...interface{}) { problems = append(problems, fmt.Sprintf(format, args...)) }

	secretUsers := map[string][]string{}
	for _, d := range r.deployments {
		name := "Deployment " + d.Name
		spec := d.Spec.Template.Spec
		if d.Spec.Selector == nil {
			add("%s: has no selector", name)
		} else if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			add("%s: its selector does not match its pod template's labels", name)
		}
		for _, c := range spec.Containers {
			where := fmt.Sprintf("%s container %s", name, c.Name)
			checkProbe(where, "readinessProbe", c.ReadinessProbe, "/readyz", c.Ports, add)
			checkProbe(where, "livenessProbe", c.LivenessProbe, "/healthz", c.Ports, add)
			checkResources(where, c, add)
			if isWorker(c) {
				for _, e := range c.Env {
					for _, v := range apiOnlyVariables {
						if e.Name == v {
							add("%s: sets %s, which belongs to the API only (the worker reads untrusted files)", where, v)
						}
					}
				}
			}
			checkTLSFiles(where, c, spec.Volumes, add)
		}
		for _, c := range spec.InitContainers {
			checkResources(fmt.Sprintf("%s init container %s", name, c.Name), c, add)
		}
		for _, s := range secretsOf(spec) {
			secretUsers[s] = appendUnique(secretUsers[s], d.Name)
		}
	}
	for _, j := range r.jobs {
		for _, c := range append(append([]corev1.Container{}, j.Spec.Template.Spec.InitContainers...), j.Spec.Template.Spec.Containers...) {
			checkResources(fmt.Sprintf("Job %s container %s", j.Name, c.Name), c, add)
		}
		for _, s := range secretsOf(j.Spec.Template.Spec) {
			secretUsers[s] = appendUnique(secretUsers[s], j.Name)
		}
	}
	secrets := make([]string, 0, len(secretUsers))
	for s := range secretUsers {
		secrets = append(secrets, s)
	}
	sort.Strings(secrets)
	for _, s := range secrets {
		users := secretUsers[s]
		if len(users) > 1 {
			add("Secret %s is used by more than one workload (%s): each process gets a Secret of its own", s, strings.Join(users, ", "))
		} else if s != users[0] && !strings.HasPrefix(s, users[0]+"-") {
			add("%s uses Secret %s: a workload uses only Secrets named after it (%s or %s-…)", users[0], s, users[0], users[0])
		}
	}

	for _, d := range r.deployments {
		covered := 0
		for _, p := range r.pdbs {
			if selects(p.Spec.Selector, d) {
				covered++
			}
		}
		if covered != 1 {
			add("Deployment %s: %d PodDisruptionBudgets select its pods (want exactly 1)", d.Name, covered)
		}
	}
	for _, p := range r.pdbs {
		n := 0
		for _, d := range r.deployments {
			if selects(p.Spec.Selector, d) {
				n++
			}
		}
		if n != 1 {
			add("PodDisruptionBudget %s: its selector matches the pods of %d Deployments (want exactly 1)", p.Name, n)
		}
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			add("PodDisruptionBudget %s: sets neither minAvailable nor maxUnavailable", p.Name)
		}
	}

	apiScaled := false
	for _, h := range r.hpas {
		target := h.Spec.ScaleTargetRef
		var found *appsv1.Deployment
		for _, d := range r.deployments {
			if target.Kind == "Deployment" && target.Name == d.Name {
				found = d
			}
		}
		if found == nil {
			add("HorizontalPodAutoscaler %s: scales %s %s, which is not rendered", h.Name, target.Kind, target.Name)
			continue
		}
		if runsAPI(found) {
			apiScaled = true
		}
	}
	for _, d := range r.deployments {
		if runsAPI(d) && !apiScaled {
			add("Deployment %s runs the API but no HorizontalPodAutoscaler scales it", d.Name)
		}
	}
	return problems
}

// checkResources requires CPU and memory requests and limits, each request at most its limit.
func checkResources(where string, c corev1.Container, add func(string, ...interface{})) {
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[res]
		lim, hasLim := c.Resources.Limits[res]
		if !hasReq || !hasLim {
			add("%s: sets no %s request and limit (resources.requests.%s, resources.limits.%s)", where, res, res, res)
		} else if req.Cmp(lim) > 0 {
			add("%s: requests more %s (%s) than its limit (%s)", where, res, req.String(), lim.String())
		}
	}
}

// checkProbe requires an HTTP probe on path whose port is one the container declares.
func checkProbe(where, field string, p *corev1.Probe, path string, ports []corev1.ContainerPort, add func(string, ...interface{})) {
	if p == nil || p.HTTPGet == nil {
		add("%s: has no %s (an HTTP GET of %s)", where, field, path)
		return
	}
	if p.HTTPGet.Path != path {
		add("%s: %s asks %s, not %s", where, field, p.HTTPGet.Path, path)
	}
	for _, port := range ports {
		if (p.HTTPGet.Port.StrVal != "" && p.HTTPGet.Port.StrVal == port.Name) || (p.HTTPGet.Port.StrVal == "" && p.HTTPGet.Port.IntVal == port.ContainerPort) {
			return
		}
	}
	add("%s: %s's port %s is not a port the container declares", where, field, p.HTTPGet.Port.String())
}

// checkTLSFiles requires each Temporal credential file (TEMPORAL_TLS_*_PATH, TEMPORAL_CLIENT_SECRET_FILE)
// to lie under a mounted Secret volume.
func checkTLSFiles(where string, c corev1.Container, volumes []corev1.Volume, add func(string, ...interface{})) {
	secretVolumes := map[string]bool{}
	for _, v := range volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = true
		}
	}
	for _, e := range c.Env {
		credential := (strings.HasPrefix(e.Name, "TEMPORAL_TLS_") && strings.HasSuffix(e.Name, "_PATH")) || e.Name == "TEMPORAL_CLIENT_SECRET_FILE"
		if !credential {
			continue
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			if secretVolumes[m.Name] && strings.HasPrefix(e.Value, strings.TrimSuffix(m.MountPath, "/")+"/") {
				mounted = true
			}
		}
		if !mounted {
			add("%s: %s=%s is not in a mounted Secret volume", where, e.Name, e.Value)
		}
	}
}

// secretsOf lists the Secrets a pod reads: envFrom, env, volumes (also projected).
func secretsOf(spec corev1.PodSpec) []string {
	var names []string
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		for _, f := range c.EnvFrom {
			if f.SecretRef != nil {
				names = appendUnique(names, f.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				names = appendUnique(names, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			names = appendUnique(names, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					names = appendUnique(names, s.Secret.Name)
				}
			}
		}
	}
	return names
}

func selects(selector *metav1.LabelSelector, d *appsv1.Deployment) bool {
	if selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels))
}

func isWorker(c corev1.Container) bool {
	return strings.Contains(strings.Join(append(c.Command, c.Args...), " "), "dist/worker.js")
}

func runsAPI(d *appsv1.Deployment) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(strings.Join(append(c.Command, c.Args...), " "), "dist/api/server.js") {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
