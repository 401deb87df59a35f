package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// fieldMapping is the override for one Terraform attribute or block, as derived from the
// Python SDK by scripts/_engine/openstack_mapping.py. Unset members keep the bridge's default.
type fieldMapping struct {
	Name        string                   `json:"name,omitempty"`
	MaxItemsOne *bool                    `json:"maxItemsOne,omitempty"`
	Fields      map[string]*fieldMapping `json:"fields,omitempty"` // members of a nested block
	EnvVars     []string                 `json:"envVars,omitempty"`
}

type memberMapping struct {
	Token  string                   `json:"token"`
	Fields map[string]*fieldMapping `json:"fields,omitempty"`
	// LegacyToken is a second, deprecated token the SDK still has for the same Terraform
	// resource or data source (it sends an alias from the current one to it).
	LegacyToken string `json:"legacyToken,omitempty"`
}

// moduleOf returns the module part of a token: "openstack:bgpvpn/v2:V2" -> "bgpvpn".
func moduleOf(token string) string {
	parts := strings.Split(token, ":")
	if len(parts) != 3 {
		return ""
	}
	mod, _, _ := strings.Cut(parts[1], "/")
	return mod
}

// mapping is the whole derived table: Terraform name -> Pulumi token and field overrides.
type mapping struct {
	SDKVersion  string                    `json:"sdkVersion"`
	Resources   map[string]*memberMapping `json:"resources"`
	DataSources map[string]*memberMapping `json:"dataSources"`
	Config      map[string]*fieldMapping  `json:"config"`
	Ignore      []string                  `json:"ignore"`
}

func parseMapping(raw []byte) (*mapping, error) {
	var m mapping
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func toSchemaInfos(fields map[string]*fieldMapping) map[string]*tfbridge.SchemaInfo {
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]*tfbridge.SchemaInfo, len(fields))
	for tfName, f := range fields {
		si := &tfbridge.SchemaInfo{Name: f.Name, MaxItemsOne: f.MaxItemsOne}
		if len(f.Fields) > 0 {
			si.Elem = &tfbridge.SchemaInfo{Fields: toSchemaInfos(f.Fields)}
		}
		if len(f.EnvVars) > 0 {
			si.Default = &tfbridge.DefaultInfo{EnvVars: f.EnvVars}
		}
		out[tfName] = si
	}
	return out
}

// providerInfo builds the bridge's ProviderInfo from the derived mapping.
func providerInfo(m *mapping, version string) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(openstack.Provider()),
		Name:        "openstack",
		Version:     version,
		Description: "OpenStack resources for Pulumi (kuntapilvi's build of the Terraform bridge)",
		Keywords:    []string{"pulumi", "openstack"},
		License:     "Apache-2.0",
		GitHubOrg:   "terraform-provider-openstack",
		Repository:  "https://github.com/pulumi/pulumi-openstack",

		TFProviderModuleVersion: "v3",
		Config:                  toSchemaInfos(m.Config),
		Resources:               map[string]*tfbridge.ResourceInfo{},
		DataSources:             map[string]*tfbridge.DataSourceInfo{},
		IgnoreMappings:          m.Ignore,
	}
	for _, tfName := range sortedKeys(m.Resources) {
		r := m.Resources[tfName]
		ri := &tfbridge.ResourceInfo{Tok: tokens.Type(r.Token), Fields: toSchemaInfos(r.Fields)}
		if r.LegacyToken == "" {
			prov.Resources[tfName] = ri
			continue
		}
		prov.RenameResourceWithAlias(tfName, tokens.Type(r.LegacyToken), tokens.Type(r.Token),
			moduleOf(r.LegacyToken), moduleOf(r.Token), ri)
	}
	for _, tfName := range sortedKeys(m.DataSources) {
		d := m.DataSources[tfName]
		di := &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(d.Token), Fields: toSchemaInfos(d.Fields)}
		if d.LegacyToken == "" {
			prov.DataSources[tfName] = di
			continue
		}
		prov.RenameDataSource(tfName, tokens.ModuleMember(d.LegacyToken), tokens.ModuleMember(d.Token),
			moduleOf(d.LegacyToken), moduleOf(d.Token), di)
	}
	// Resources with an optional "name" get an auto-generated one (logical name plus a random
	// suffix), as in Pulumi's own providers.
	prov.SetAutonaming(255, "-")
	return prov
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func generateSchema(info tfbridge.ProviderInfo) (*pschema.PackageSpec, error) {
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	res, err := tfgen.GenerateSchemaWithOptions(tfgen.GenerateSchemaOptions{
		ProviderInfo:    info,
		DiagnosticsSink: sink,
		// Docs would come from the Terraform provider's repository; the schema's own
		// descriptions are enough for the engine.
		XInMemoryDocs: true,
	})
	if err != nil {
		return nil, err
	}
	return &res.PackageSpec, nil
}

// tfField is the outline of one Terraform attribute or block that the mapping script needs.
type tfField struct {
	Pulumi   string              `json:"pulumi"` // the bridge's default Pulumi name
	Type     string              `json:"type"`
	MaxItems int                 `json:"maxItems,omitempty"`
	Required bool                `json:"required,omitempty"`
	Computed bool                `json:"computed,omitempty"`
	Elem     string              `json:"elem,omitempty"` // scalar element type of list/set/map
	Fields   map[string]*tfField `json:"fields,omitempty"`
}

type tfOutline struct {
	Provider    map[string]*tfField            `json:"provider"`
	Resources   map[string]map[string]*tfField `json:"resources"`
	DataSources map[string]map[string]*tfField `json:"dataSources"`
}

var typeNames = map[shim.ValueType]string{
	shim.TypeBool: "bool", shim.TypeInt: "int", shim.TypeFloat: "float",
	shim.TypeString: "string", shim.TypeList: "list", shim.TypeMap: "map",
	shim.TypeSet: "set", shim.TypeDynamic: "dynamic",
}

func outlineFields(sm shim.SchemaMap) map[string]*tfField {
	out := map[string]*tfField{}
	sm.Range(func(key string, s shim.Schema) bool {
		f := &tfField{
			Pulumi:   tfbridge.TerraformToPulumiNameV2(key, sm, nil),
			Type:     typeNames[s.Type()],
			MaxItems: s.MaxItems(),
			Required: s.Required(),
			Computed: s.Computed() && !s.Optional(),
		}
		switch e := s.Elem().(type) {
		case shim.Resource:
			f.Fields = outlineFields(e.Schema())
		case shim.Schema:
			f.Elem = typeNames[e.Type()]
		}
		out[key] = f
		return true
	})
	return out
}

func dumpTerraform() *tfOutline {
	p := shimv2.NewProvider(openstack.Provider())
	o := &tfOutline{
		Provider:    outlineFields(p.Schema()),
		Resources:   map[string]map[string]*tfField{},
		DataSources: map[string]map[string]*tfField{},
	}
	p.ResourcesMap().Range(func(k string, r shim.Resource) bool {
		o.Resources[k] = outlineFields(r.Schema())
		return true
	})
	p.DataSourcesMap().Range(func(k string, r shim.Resource) bool {
		o.DataSources[k] = outlineFields(r.Schema())
		return true
	})
	return o
}
