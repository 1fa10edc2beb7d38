package sessionjson

import (
	"encoding/json"
	"testing"

	"github.com/ory/fosite/handler/openid"
)

func BenchmarkMarshal(b *testing.B) {
	s := loginSession()
	b.Run("sessionjson", func(b *testing.B) {
		var n int
		for b.Loop() {
			data, err := Marshal(s)
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("encoding-json", func(b *testing.B) {
		var n int
		for b.Loop() {
			data, err := json.Marshal(s)
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes")
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	s := loginSession()
	data, err := Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	old, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	run := func(data []byte, unmarshal func([]byte, *openid.DefaultSession) error) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if err := unmarshal(data, emptySession()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes")
		}
	}
	jsonUnmarshal := func(data []byte, s *openid.DefaultSession) error { return json.Unmarshal(data, s) }
	b.Run("sessionjson", run(data, Unmarshal))
	b.Run("sessionjson-old-row", run(old, Unmarshal))
	b.Run("encoding-json", run(old, jsonUnmarshal))
	b.Run("encoding-json-new-row", run(data, jsonUnmarshal))
}
