// Command tlogcheck cross-checks Affidavit's TypeScript transparency-log code (packages/tlog)
// against the reference Go implementations: github.com/transparency-dev/merkle for RFC 9162
// proofs and golang.org/x/mod/sumdb/note for signed notes.
//
// It reads one JSON request from stdin and writes one JSON response to stdout. It is a test
// tool: it opens no network connection and touches no file.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// request holds every check and every generation task of one run. Byte strings are base64
// (encoding/json's []byte encoding).
type request struct {
	Inclusion   []inclusionCheck   `json:"inclusion"`
	Consistency []consistencyCheck `json:"consistency"`
	Notes       []noteCheck        `json:"notes"`
	Generate    *generateTask      `json:"generate"`
}

type inclusionCheck struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leafHash"`
	Proof    [][]byte `json:"proof"`
	Root     []byte   `json:"root"`
}

type consistencyCheck struct {
	Size1 uint64   `json:"size1"`
	Size2 uint64   `json:"size2"`
	Proof [][]byte `json:"proof"`
	Root1 []byte   `json:"root1"`
	Root2 []byte   `json:"root2"`
}

type noteCheck struct {
	Note  string   `json:"note"`
	VKeys []string `json:"vkeys"`
}

// generateTask asks the reference code to build a tree of the given leaves, produce proofs
// and sign a note with a fresh key of its own.
type generateTask struct {
	Leaves      [][]byte    `json:"leaves"`
	Inclusion   [][2]uint64 `json:"inclusion"`   // [index, size]
	Consistency [][2]uint64 `json:"consistency"` // [size1, size2]
	KeyName     string      `json:"keyName"`
	NoteText    string      `json:"noteText"`
}

type result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Text  string `json:"text,omitempty"`
}

type generated struct {
	Roots       [][]byte   `json:"roots"` // Roots[s] is the root of the first s leaves
	Inclusion   [][][]byte `json:"inclusion"`
	Consistency [][][]byte `json:"consistency"`
	VKey        string     `json:"vkey"`
	Note        string     `json:"note"`
}

type response struct {
	Inclusion   []result   `json:"inclusion"`
	Consistency []result   `json:"consistency"`
	Notes       []result   `json:"notes"`
	Generated   *generated `json:"generated,omitempty"`
}

func resultOf(err error) result {
	if err != nil {
		return result{OK: false, Error: err.Error()}
	}
	return result{OK: true}
}

func run(req request) (response, error) {
	h := rfc6962.DefaultHasher
	resp := response{Inclusion: []result{}, Consistency: []result{}, Notes: []result{}}
	for _, c := range req.Inclusion {
		resp.Inclusion = append(resp.Inclusion, resultOf(proof.VerifyInclusion(h, c.Index, c.Size, c.LeafHash, c.Proof, c.Root)))
	}
	for _, c := range req.Consistency {
		resp.Consistency = append(resp.Consistency, resultOf(proof.VerifyConsistency(h, c.Size1, c.Size2, c.Proof, c.Root1, c.Root2)))
	}
	for _, c := range req.Notes {
		var vs []note.Verifier
		bad := false
		for _, k := range c.VKeys {
			v, err := note.NewVerifier(k)
			if err != nil {
				resp.Notes = append(resp.Notes, resultOf(fmt.Errorf("verifier key: %w", err)))
				bad = true
				break
			}
			vs = append(vs, v)
		}
		if bad {
			continue
		}
		n, err := note.Open([]byte(c.Note), note.VerifierList(vs...))
		r := resultOf(err)
		if err == nil {
			r.Text = n.Text
		}
		resp.Notes = append(resp.Notes, r)
	}
	if g := req.Generate; g != nil {
		t := testonly.New(h)
		t.AppendData(g.Leaves...)
		out := &generated{}
		for s := uint64(0); s <= t.Size(); s++ {
			out.Roots = append(out.Roots, t.HashAt(s))
		}
		for _, q := range g.Inclusion {
			p, err := t.InclusionProof(q[0], q[1])
			if err != nil {
				return resp, fmt.Errorf("inclusion proof %v: %w", q, err)
			}
			out.Inclusion = append(out.Inclusion, nonNil(p))
		}
		for _, q := range g.Consistency {
			p, err := t.ConsistencyProof(q[0], q[1])
			if err != nil {
				return resp, fmt.Errorf("consistency proof %v: %w", q, err)
			}
			out.Consistency = append(out.Consistency, nonNil(p))
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, g.KeyName)
		if err != nil {
			return resp, fmt.Errorf("generate key: %w", err)
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			return resp, err
		}
		msg, err := note.Sign(&note.Note{Text: g.NoteText}, signer)
		if err != nil {
			return resp, fmt.Errorf("sign: %w", err)
		}
		out.VKey, out.Note = vkey, string(msg)
		resp.Generated = out
	}
	return resp, nil
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

func main() {
	var req request
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck: bad request:", err)
		os.Exit(2)
	}
	resp, err := run(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
}
