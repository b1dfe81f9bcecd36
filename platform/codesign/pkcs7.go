package codesign

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
)

// The minimal PKCS#7 / CMS structures (RFC 5652) needed to find the signer.
// Everything not needed stays an asn1.RawValue and is never decoded.

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT: the wrapper, content in Bytes
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue // SET OF AlgorithmIdentifier
	ContentInfo      asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"` // [0] IMPLICIT SET OF Certificate
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue // SET OF SignerInfo
}

// signerInfo stops after the signer identifier; encoding/asn1 ignores the
// rest of the SEQUENCE.
type signerInfo struct {
	Version int
	SID     asn1.RawValue // issuerAndSerialNumber, or [0] subjectKeyIdentifier
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial asn1.RawValue // INTEGER, kept raw: serials can be negative or huge
}

// tbsCertificate is the lenient view of a certificate: enough to match it to
// a signer and name it, even when crypto/x509 rejects the certificate.
type tbsCertificate struct {
	Version   int `asn1:"optional,explicit,default:0,tag:0"`
	Serial    asn1.RawValue
	Signature asn1.RawValue
	Issuer    asn1.RawValue
	Validity  asn1.RawValue
	Subject   asn1.RawValue
}

type certificateOuter struct {
	TBS asn1.RawValue
}

const (
	maxCertificates = 256
	maxBERDepth     = 64
)

// signer is what the PKCS#7 blob says about its first signer.
type signer struct {
	subject, organization, unit, issuer, serial string
}

// parseSignedData finds the first signer of a PKCS#7 ContentInfo holding
// SignedData, in DER or (as Apple writes it) BER with indefinite lengths,
// and names it from its certificate. Cost: one pass over der plus one
// x509.ParseCertificate; allocations are bounded by a small multiple of
// len(der).
func parseSignedData(der []byte) (signer, error) {
	der, err := berToDER(der)
	if err != nil {
		return signer{}, fmt.Errorf("pkcs7: %w", err)
	}
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return signer{}, fmt.Errorf("pkcs7: content info: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return signer{}, fmt.Errorf("pkcs7: content type %v is not signedData", ci.ContentType)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return signer{}, fmt.Errorf("pkcs7: signed data: %w", err)
	}
	if sd.SignerInfos.Tag != asn1.TagSet || sd.SignerInfos.Class != asn1.ClassUniversal {
		return signer{}, errors.New("pkcs7: signerInfos is not a SET")
	}
	var si signerInfo
	if _, err := asn1.Unmarshal(sd.SignerInfos.Bytes, &si); err != nil {
		return signer{}, fmt.Errorf("pkcs7: no readable signer info: %w", err)
	}
	var certs [][]byte
	if sd.Certificates.Class == asn1.ClassContextSpecific && sd.Certificates.Tag == 0 {
		rest := sd.Certificates.Bytes
		for len(rest) > 0 && len(certs) < maxCertificates {
			var c asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &c); err != nil {
				return signer{}, fmt.Errorf("pkcs7: certificate %d: %w", len(certs), err)
			}
			// Other CertificateChoices (attribute certificates...) are tagged [n].
			if c.Class == asn1.ClassUniversal && c.Tag == asn1.TagSequence {
				certs = append(certs, c.FullBytes)
			}
		}
	}
	if len(certs) == 0 {
		return signer{}, errors.New("pkcs7: signature carries no certificates")
	}

	switch {
	case si.SID.Class == asn1.ClassUniversal && si.SID.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if _, err := asn1.Unmarshal(si.SID.FullBytes, &ias); err != nil {
			return signer{}, fmt.Errorf("pkcs7: signer issuer and serial: %w", err)
		}
		for _, c := range certs {
			tbs, ok := parseTBS(c)
			if ok && bytes.Equal(tbs.Issuer.FullBytes, ias.Issuer.FullBytes) &&
				bytes.Equal(tbs.Serial.Bytes, ias.Serial.Bytes) {
				return nameCertificate(c, tbs), nil
			}
		}
	case si.SID.Class == asn1.ClassContextSpecific && si.SID.Tag == 0:
		for _, c := range certs {
			cert, err := x509.ParseCertificate(c)
			if err == nil && len(cert.SubjectKeyId) > 0 && bytes.Equal(cert.SubjectKeyId, si.SID.Bytes) {
				tbs, _ := parseTBS(c)
				return nameCertificate(c, tbs), nil
			}
		}
	default:
		return signer{}, fmt.Errorf("pkcs7: unknown signer identifier tag %d", si.SID.Tag)
	}
	return signer{}, errors.New("pkcs7: the signer's certificate is not in the signature")
}

func parseTBS(cert []byte) (tbsCertificate, bool) {
	var outer certificateOuter
	if _, err := asn1.Unmarshal(cert, &outer); err != nil {
		return tbsCertificate{}, false
	}
	var tbs tbsCertificate
	if _, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil {
		return tbsCertificate{}, false
	}
	if tbs.Serial.Class != asn1.ClassUniversal || tbs.Serial.Tag != asn1.TagInteger {
		return tbsCertificate{}, false
	}
	return tbs, true
}

// nameCertificate names a certificate with crypto/x509, falling back to the
// raw Names when x509 rejects it (negative serials, which old Authenticode
// certificates have and Go refuses since 1.23, or other strictness).
func nameCertificate(der []byte, tbs tbsCertificate) signer {
	s := signer{serial: serialHex(tbs.Serial.Bytes)}
	var subject, issuer pkix.Name
	if cert, err := x509.ParseCertificate(der); err == nil {
		subject, issuer = cert.Subject, cert.Issuer
	} else {
		subject, issuer = lenientName(tbs.Subject.FullBytes), lenientName(tbs.Issuer.FullBytes)
	}
	s.subject = subject.CommonName
	s.organization = first(subject.Organization)
	s.unit = first(subject.OrganizationalUnit)
	s.issuer = issuer.CommonName
	return s
}

func lenientName(raw []byte) pkix.Name {
	var rdn pkix.RDNSequence
	var n pkix.Name
	if _, err := asn1.Unmarshal(raw, &rdn); err == nil {
		n.FillFromRDNSequence(&rdn)
	}
	return n
}

// serialHex is the serial as lowercase hex of its magnitude bytes (as
// openssl prints it, without a sign byte); a negative serial, which only
// broken certificates have, is printed as its two's-complement bytes.
func serialHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if b[0]&0x80 == 0 {
		n := new(big.Int).SetBytes(b)
		if n.Sign() == 0 {
			return "00"
		}
		return hex.EncodeToString(n.Bytes())
	}
	return hex.EncodeToString(b)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// berToDER rewrites one BER element (what follows it is dropped) as DER as
// far as lengths go: indefinite and non-minimal lengths become minimal
// definite ones, which is all encoding/asn1 needs to read Apple's CMS
// blobs. Contents are copied unchanged. Recursion is bounded by
// maxBERDepth; the output goes into one buffer that is at most a few bytes
// per element longer than the input.
func berToDER(in []byte) ([]byte, error) {
	// Only indefinite elements with bodies of 64 KiB or more grow (by one
	// byte each), so this capacity is never exceeded in practice.
	out := make([]byte, 0, len(in)+len(in)/1024+64)
	out, _, err := appendDER(out, in, 0)
	return out, err
}

func appendDER(out, in []byte, depth int) ([]byte, []byte, error) {
	if depth > maxBERDepth {
		return nil, nil, errors.New("ber: nesting too deep")
	}
	// Identifier octets.
	if len(in) < 2 {
		return nil, nil, errors.New("ber: truncated element")
	}
	tagLen := 1
	if in[0]&0x1f == 0x1f {
		for {
			if tagLen >= len(in) || tagLen > 5 {
				return nil, nil, errors.New("ber: bad tag")
			}
			b := in[tagLen]
			tagLen++
			if b&0x80 == 0 {
				break
			}
		}
	}
	constructed := in[0]&0x20 != 0
	out = append(out, in[:tagLen]...)
	rest := in[tagLen:]
	if len(rest) == 0 {
		return nil, nil, errors.New("ber: truncated length")
	}
	// Length octets.
	l := rest[0]
	rest = rest[1:]
	var content []byte
	switch {
	case l == 0x80: // indefinite: children until the end-of-contents 00 00
		if !constructed {
			return nil, nil, errors.New("ber: indefinite length on a primitive element")
		}
		lenAt := len(out)
		out = append(out, 0)
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			var err error
			if out, rest, err = appendDER(out, rest, depth+1); err != nil {
				return nil, nil, err
			}
		}
		return patchLength(out, lenAt), rest, nil
	case l&0x80 != 0:
		n := int(l & 0x7f)
		if n > 4 || n > len(rest) {
			return nil, nil, errors.New("ber: bad length")
		}
		var v int
		for _, b := range rest[:n] {
			v = v<<8 | int(b)
		}
		rest = rest[n:]
		if v < 0 || v > len(rest) {
			return nil, nil, errors.New("ber: length beyond the data")
		}
		content, rest = rest[:v], rest[v:]
	default:
		if int(l) > len(rest) {
			return nil, nil, errors.New("ber: length beyond the data")
		}
		content, rest = rest[:l], rest[l:]
	}
	lenAt := len(out)
	if !constructed {
		out = appendLength(out, len(content))
		return append(out, content...), rest, nil
	}
	out = append(out, 0)
	for len(content) > 0 {
		var err error
		if out, content, err = appendDER(out, content, depth+1); err != nil {
			return nil, nil, err
		}
	}
	return patchLength(out, lenAt), rest, nil
}

// patchLength replaces the one-byte placeholder at out[at] with the DER
// length of everything after it, moving the body up when the length needs
// more than one byte. The move is within out: no allocation per element.
func patchLength(out []byte, at int) []byte {
	n := len(out) - at - 1
	var l [5]byte
	enc := appendLength(l[:0], n)
	if extra := len(enc) - 1; extra > 0 {
		out = append(out, enc[1:]...) // grow by extra bytes
		copy(out[at+1+extra:], out[at+1:at+1+n])
	}
	copy(out[at:], enc)
	return out
}

func appendLength(out []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(out, byte(n))
	case n <= 0xff:
		return append(out, 0x81, byte(n))
	case n <= 0xffff:
		return append(out, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
