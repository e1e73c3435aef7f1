// Command gopeer is the benchmark's Go peer of the ingress (issue 15): a
// webhook receiver doing the ingress' work per delivery with net/http,
// franz-go and hamba/avro, so the bench can set the ingress' figures beside a
// compiled receiver's on the same stack with the same delivery bytes.
// Bench-only code: it is built and started by test/bench/ingress.bench.ts and
// is not part of the product. What it does, and what it leaves out, is listed
// in bench/peers/go/README.md.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chunkRecords is how many records are normalised and handed to the producer
// at a time (the ingress' YIELD_EVERY): a 100,000-record delivery is not held
// as 100,000 normalised records at once.
const chunkRecords = 2000

type settings struct {
	port       string
	brokers    []string
	registry   string
	topic      string
	secrets    []string
	feed       string
	fieldsFile string
	schemaFile string
	ackTimeout time.Duration
	maxBody    int64
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func readSettings() settings {
	ack, err := strconv.Atoi(env("ACK_TIMEOUT_MS", "30000"))
	if err != nil {
		log.Fatalf("ACK_TIMEOUT_MS: %v", err)
	}
	s := settings{
		port:       env("PORT", "8080"),
		brokers:    strings.Split(env("KAFKA_BROKERS", "127.0.0.1:9092"), ","),
		registry:   strings.TrimRight(env("SCHEMA_REGISTRY_URL", ""), "/"),
		topic:      env("CDR_TOPIC", "webex.calling.cdr"),
		secrets:    strings.Split(env("WEBHOOK_SECRETS", ""), ","),
		feed:       env("CDR_FEED", "analytics"),
		fieldsFile: env("PEER_FIELDS_FILE", ""),
		schemaFile: env("PEER_SCHEMA_FILE", ""),
		ackTimeout: time.Duration(ack) * time.Millisecond,
		maxBody:    512 << 20,
	}
	if s.registry == "" || s.fieldsFile == "" || s.schemaFile == "" || s.secrets[0] == "" {
		log.Fatal("SCHEMA_REGISTRY_URL, PEER_FIELDS_FILE, PEER_SCHEMA_FILE and WEBHOOK_SECRETS are required")
	}
	return s
}

// registerSchema registers the schema under <topic>-value (Confluent API, as
// Apicurio's ccompat serves it) and returns its id: the ingress registers the
// same text under the same subject, so both write with the same id.
func registerSchema(registry, subject, schema string) (uint32, error) {
	body, _ := json.Marshal(map[string]string{"schema": schema})
	res, err := http.Post(registry+"/subjects/"+subject+"/versions",
		"application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("registry answered %d: %s", res.StatusCode, text)
	}
	var answer struct {
		ID uint32 `json:"id"`
	}
	if err := json.Unmarshal(text, &answer); err != nil {
		return 0, err
	}
	return answer.ID, nil
}

type peer struct {
	s        settings
	client   *kgo.Client
	schema   avro.Schema
	schemaID uint32
	norm     *normaliser
}

func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// verifySignature checks X-Spark-Signature (40 lowercase hex: HMAC-SHA1 of
// the body) against every secret, as src/ingress/verify-signature.ts does;
// X-Webex-Signature (HMAC-SHA256) too when present.
func (p *peer) verifySignature(h http.Header, body []byte) (int, string) {
	type scheme struct {
		header string
		hexLen int
		newMac func(key []byte) []byte
	}
	schemes := []scheme{
		{"X-Spark-Signature", 40, func(k []byte) []byte { m := hmac.New(sha1.New, k); m.Write(body); return m.Sum(nil) }},
		{"X-Webex-Signature", 64, func(k []byte) []byte { m := hmac.New(sha256.New, k); m.Write(body); return m.Sum(nil) }},
	}
	claims := 0
	for _, sc := range schemes {
		value := h.Get(sc.header)
		if value == "" {
			continue
		}
		claimed := strings.TrimSpace(value)
		if len(claimed) != sc.hexLen || strings.ToLower(claimed) != claimed {
			return http.StatusUnauthorized, "signature_invalid"
		}
		digest, err := hex.DecodeString(claimed)
		if err != nil {
			return http.StatusUnauthorized, "signature_invalid"
		}
		claims++
		matched := false
		for _, secret := range p.s.secrets {
			if hmac.Equal(sc.newMac([]byte(secret)), digest) {
				matched = true
			}
		}
		if !matched {
			return http.StatusUnauthorized, "signature_invalid"
		}
	}
	if claims == 0 {
		return http.StatusUnauthorized, "signature_missing"
	}
	return 0, ""
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *peer) handle(w http.ResponseWriter, r *http.Request) {
	receivedAt := time.Now().UnixMilli()
	if r.Method != http.MethodPost {
		answer(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
		return
	}
	if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		answer(w, http.StatusUnsupportedMediaType, map[string]string{"error": "content_type_unsupported"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.s.maxBody))
	if err != nil {
		answer(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body_too_large"})
		return
	}
	if status, code := p.verifySignature(r.Header, body); status != 0 {
		answer(w, status, map[string]string{"error": code})
		return
	}
	// a syntax error anywhere refuses the whole delivery before anything is sent
	if !json.Valid(body) {
		answer(w, http.StatusBadRequest, map[string]string{"error": "body_invalid_json"})
		return
	}
	ingest := ingestValue{Feed: p.s.feed, Source: "webhook", ReceivedAt: receivedAt, DeliveryID: newDeliveryID()}
	counts, err := p.publish(r.Context(), body, ingest)
	if err != nil {
		status := http.StatusServiceUnavailable
		if _, bad := err.(badBody); bad {
			status = http.StatusUnprocessableEntity
		} else {
			w.Header().Set("Retry-After", "5")
		}
		answer(w, status, map[string]string{"error": err.Error(), "deliveryId": ingest.DeliveryID})
		return
	}
	answer(w, http.StatusOK, map[string]any{
		"deliveryId": ingest.DeliveryID, "received": counts.received, "accepted": counts.accepted,
		"deadLettered": 0, "duplicatesInBatch": counts.duplicates,
	})
}

type badBody string

func (b badBody) Error() string { return string(b) }

type counts struct{ received, accepted, duplicates int }

// publish normalises, encodes and produces the delivery chunk by chunk, and
// returns once Kafka has acknowledged every record (acks=all), or the first
// error; ACK_TIMEOUT_MS bounds each record's delivery (kgo.RecordDeliveryTimeout). Within a chunk a Report ID is published once (the latest Report time
// wins); a Report ID met again in a later chunk with an older Report time is
// dropped, with the same or a later one published again (src/cdr/batch.ts).
func (p *peer) publish(ctx context.Context, body []byte, ingest ingestValue) (counts, error) {
	var c counts
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		wg.Done()
	}
	seen := map[string]int64{}
	chunk := make([]*normalised, 0, chunkRecords)
	flush := func() error {
		byID := make(map[string]int, len(chunk))
		kept := chunk[:0]
		for _, n := range chunk {
			if i, dup := byID[n.reportID]; dup {
				c.duplicates++
				if n.reportTime >= kept[i].reportTime {
					kept[i] = n
				}
				continue
			}
			byID[n.reportID] = len(kept)
			kept = append(kept, n)
		}
		for _, n := range kept {
			if earlier, again := seen[n.reportID]; again {
				c.duplicates++
				if n.reportTime < earlier {
					continue
				}
			}
			seen[n.reportID] = n.reportTime
			rec, err := p.toRecord(n)
			if err != nil {
				return err
			}
			wg.Add(1)
			c.accepted++
			p.client.Produce(ctx, rec, done)
		}
		chunk = chunk[:0]
		return nil
	}
	err := eachRecord(body, func(raw []rawPair) error {
		c.received++
		n, err := p.norm.normalise(raw, ingest)
		if err != nil {
			return err
		}
		chunk = append(chunk, n)
		if len(chunk) == chunkRecords {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	wg.Wait()
	if err != nil {
		return c, err
	}
	return c, firstErr
}

func (p *peer) toRecord(n *normalised) (*kgo.Record, error) {
	avroBytes, err := avro.Marshal(p.schema, n.value)
	if err != nil {
		return nil, err
	}
	value := make([]byte, 5+len(avroBytes))
	value[0] = 0
	value[1] = byte(p.schemaID >> 24)
	value[2] = byte(p.schemaID >> 16)
	value[3] = byte(p.schemaID >> 8)
	value[4] = byte(p.schemaID)
	copy(value[5:], avroBytes)
	headers := []kgo.RecordHeader{
		{Key: "cdr-report-id", Value: []byte(n.reportID)},
		{Key: "cdr-source", Value: []byte(n.ingest.Source)},
		{Key: "cdr-feed", Value: []byte(n.ingest.Feed)},
		{Key: "cdr-delivery-id", Value: []byte(n.ingest.DeliveryID)},
		{Key: "cdr-content-hash", Value: []byte(n.contentHash)},
	}
	reportTime := n.reportTimeISO
	if reportTime == "" && n.hasReportTime {
		reportTime = isoTime(n.reportTime)
	}
	if reportTime != "" {
		headers = append(headers, kgo.RecordHeader{Key: "cdr-report-time", Value: []byte(reportTime)})
	}
	callEnd := n.callEndISO
	if callEnd == "" && n.hasCallEnd {
		if n.callEndIsReport {
			callEnd = reportTime
		} else {
			callEnd = isoTime(n.callEnd)
		}
	}
	if callEnd != "" {
		headers = append(headers, kgo.RecordHeader{Key: "cdr-call-end", Value: []byte(callEnd)})
	}
	return &kgo.Record{Key: []byte(n.orgID), Value: value, Headers: headers}, nil
}

func isoTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func main() {
	s := readSettings()
	schemaText, err := os.ReadFile(s.schemaFile)
	if err != nil {
		log.Fatal(err)
	}
	schema, err := avro.Parse(string(schemaText))
	if err != nil {
		log.Fatal(err)
	}
	norm, err := newNormaliser(s.fieldsFile, schema)
	if err != nil {
		log.Fatal(err)
	}
	id, err := registerSchema(s.registry, s.topic+"-value", string(schemaText))
	if err != nil {
		log.Fatalf("schema registry: %v", err)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.brokers...),
		kgo.DefaultProduceTopic(s.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),                   // with the idempotent producer (franz-go's default)
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // nil: Kafka's murmur2 of the key
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProduceRequestTimeout(s.ackTimeout),
		kgo.RecordDeliveryTimeout(s.ackTimeout),
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = client.Ping(ctx)
	cancel()
	if err != nil {
		log.Fatalf("kafka: %v", err)
	}
	p := &peer{s: s, client: client, schema: schema, schemaID: id, norm: norm}
	mux := http.NewServeMux()
	mux.HandleFunc("/webhooks/cdr", p.handle)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	server := &http.Server{Addr: "127.0.0.1:" + s.port, Handler: mux}
	log.Printf("go peer: listening on %s, topic %s, schema id %d", server.Addr, s.topic, id)
	log.Fatal(server.ListenAndServe())
}
