/*
 * ldap_cert.c - read an X.509 certificate's names, issuer and validity
 * from its DER encoding (RFC 5280), to tell an admin why a directory's
 * certificate was refused.  Only what that needs: the fields of
 * TBSCertificate up to the extensions, and of the extensions only
 * subjectAltName.  The names are shown to the admin, never trusted for
 * anything: the TLS library has already made the security decision.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "directory/ldap/ldap_cert.h"

/* A slice of DER. */
struct der {
	const unsigned char *p;
	const unsigned char *end;
};

enum {
	DER_BOOLEAN = 0x01, DER_INTEGER = 0x02, DER_OCTETS = 0x04,
	DER_OID = 0x06, DER_UTF8 = 0x0c, DER_PRINTABLE = 0x13,
	DER_T61 = 0x14, DER_IA5 = 0x16, DER_UTCTIME = 0x17,
	DER_GENTIME = 0x18, DER_SEQUENCE = 0x30, DER_SET = 0x31,
	DER_CTX0 = 0xa0, DER_CTX3 = 0xa3,
	SAN_DNS = 0x82, SAN_IP = 0x87
};

static const unsigned char OID_CN[] = { 0x55, 0x04, 0x03 };    /* 2.5.4.3 */
static const unsigned char OID_SAN[] = { 0x55, 0x1d, 0x11 };   /* 2.5.29.17 */

/*
 * The next element of D: its tag, its contents in VAL and, when RAW is
 * not NULL, the whole element (tag and length included).  Definite
 * lengths and one-byte tags only, as DER certificates use them.
 */
static bool
der_next(struct der *d, unsigned *tag, struct der *val, struct der *raw)
{
	const unsigned char *p = d->p;
	size_t len, n;

	if (d->end - p < 2)
		return false;
	*tag = *p++;
	if ((*tag & 0x1f) == 0x1f)
		return false;
	len = *p++;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 4 || (size_t)(d->end - p) < n)
			return false;
		for (len = 0; n > 0; n--)
			len = (len << 8) | *p++;
	}
	if ((size_t)(d->end - p) < len)
		return false;
	if (raw != NULL) {
		raw->p = d->p;
		raw->end = p + len;
	}
	val->p = p;
	val->end = p + len;
	d->p = p + len;
	return true;
}

static bool
der_expect(struct der *d, unsigned want, struct der *val, struct der *raw)
{
	unsigned tag;

	return der_next(d, &tag, val, raw) && tag == want;
}

static bool
der_is(const struct der *d, const unsigned char *bytes, size_t n)
{
	return (size_t)(d->end - d->p) == n && memcmp(d->p, bytes, n) == 0;
}

/* A new NUL-terminated copy of D; NULL if it holds a NUL or no memory. */
static char *
der_text(const struct der *d)
{
	size_t n = (size_t)(d->end - d->p);
	char *s;

	if (memchr(d->p, '\0', n) != NULL || (s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, d->p, n);
	s[n] = '\0';
	return s;
}

/* The Name in RAW (a whole element) as an LDAPv3 DN string. */
static char *
dn_text(const struct der *raw)
{
	struct berval der, dn = { 0, NULL };
	char *s;

	der.bv_val = (char *)raw->p;
	der.bv_len = (ber_len_t)(raw->end - raw->p);
	if (ldap_X509dn2bv(&der, &dn, NULL, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS)
		return NULL;
	s = dn.bv_val != NULL ? strdup(dn.bv_val) : NULL;
	ldap_memfree(dn.bv_val);
	return s;
}

/* The last common name in Name contents NAME, or NULL. */
static char *
last_cn(struct der name)
{
	struct der rdn, atv, oid, val;
	unsigned tag;
	char *cn = NULL;

	while (name.p < name.end && der_expect(&name, DER_SET, &rdn, NULL)) {
		while (rdn.p < rdn.end &&
		    der_expect(&rdn, DER_SEQUENCE, &atv, NULL)) {
			if (!der_expect(&atv, DER_OID, &oid, NULL) ||
			    !der_next(&atv, &tag, &val, NULL))
				break;
			if (!der_is(&oid, OID_CN, sizeof(OID_CN)) ||
			    (tag != DER_UTF8 && tag != DER_PRINTABLE &&
			    tag != DER_IA5 && tag != DER_T61))
				continue;
			free(cn);
			cn = der_text(&val);
		}
	}
	return cn;
}

/* UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
static bool
der_time(unsigned tag, const struct der *d, time_t *out)
{
	size_t n = (size_t)(d->end - d->p), digits, i;
	int v[7] = { 0 };
	struct tm tm;
	const unsigned char *s = d->p;

	digits = tag == DER_UTCTIME ? 12 : tag == DER_GENTIME ? 14 : 0;
	if (digits == 0 || n != digits + 1 || s[digits] != 'Z')
		return false;
	for (i = 0; i < digits; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	i = 0;
	if (tag == DER_GENTIME) {
		v[0] = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
		    (s[2] - '0') * 10 + (s[3] - '0');
		i = 4;
	} else {
		v[0] = (s[0] - '0') * 10 + (s[1] - '0');
		v[0] += v[0] < 50 ? 2000 : 1900;
		i = 2;
	}
	for (int k = 1; k < 6; k++, i += 2)
		v[k] = (s[i] - '0') * 10 + (s[i + 1] - '0');
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = timegm(&tm);
	return true;
}

static bool
add_name(struct ldap_cert *c, char *name)
{
	char **v;

	if (name == NULL)
		return false;
	if ((v = realloc(c->names, (c->n_names + 1) * sizeof(*v))) == NULL) {
		free(name);
		return false;
	}
	c->names = v;
	c->names[c->n_names++] = name;
	return true;
}

/* subjectAltName's GeneralNames: dNSName and iPAddress. */
static bool
read_san(struct der octets, struct ldap_cert *c)
{
	struct der seq, gn;
	unsigned tag;
	char buf[INET6_ADDRSTRLEN];

	if (!der_expect(&octets, DER_SEQUENCE, &seq, NULL))
		return false;
	while (seq.p < seq.end) {
		if (!der_next(&seq, &tag, &gn, NULL))
			return false;
		if (tag == SAN_DNS) {
			if (!add_name(c, der_text(&gn)))
				return false;
		} else if (tag == SAN_IP) {
			size_t n = (size_t)(gn.end - gn.p);
			int af = n == 4 ? AF_INET : n == 16 ? AF_INET6 : 0;

			if (af != 0 && inet_ntop(af, gn.p, buf, sizeof(buf)) &&
			    !add_name(c, strdup(buf)))
				return false;
		}
	}
	return true;
}

/* Extensions ([3] contents): only subjectAltName is read. */
static bool
read_extensions(struct der ctx3, struct ldap_cert *c)
{
	struct der seq, ext, oid, val;
	unsigned tag;

	if (!der_expect(&ctx3, DER_SEQUENCE, &seq, NULL))
		return false;
	while (seq.p < seq.end) {
		if (!der_expect(&seq, DER_SEQUENCE, &ext, NULL) ||
		    !der_expect(&ext, DER_OID, &oid, NULL) ||
		    !der_next(&ext, &tag, &val, NULL))
			return false;
		if (tag == DER_BOOLEAN && !der_next(&ext, &tag, &val, NULL))
			return false;
		if (tag != DER_OCTETS)
			return false;
		if (der_is(&oid, OID_SAN, sizeof(OID_SAN)) && !read_san(val, c))
			return false;
	}
	return true;
}

bool
ldap_cert_parse(const void *der, size_t len, struct ldap_cert *out)
{
	struct der d = { der, (const unsigned char *)der + len };
	struct der cert, tbs, v, issuer, validity, subject, raw_issuer,
	    raw_subject, t1, t2;
	unsigned tag, tag1, tag2;

	memset(out, 0, sizeof(*out));
	if (der == NULL ||
	    !der_expect(&d, DER_SEQUENCE, &cert, NULL) ||
	    !der_expect(&cert, DER_SEQUENCE, &tbs, NULL) ||
	    !der_next(&tbs, &tag, &v, NULL))
		return false;
	if (tag == DER_CTX0 && !der_next(&tbs, &tag, &v, NULL))
		return false;
	if (tag != DER_INTEGER ||                                /* serial */
	    !der_expect(&tbs, DER_SEQUENCE, &v, NULL) ||         /* signature */
	    !der_expect(&tbs, DER_SEQUENCE, &issuer, &raw_issuer) ||
	    !der_expect(&tbs, DER_SEQUENCE, &validity, NULL) ||
	    !der_expect(&tbs, DER_SEQUENCE, &subject, &raw_subject) ||
	    !der_expect(&tbs, DER_SEQUENCE, &v, NULL) ||         /* key */
	    !der_next(&validity, &tag1, &t1, NULL) ||
	    !der_next(&validity, &tag2, &t2, NULL) ||
	    !der_time(tag1, &t1, &out->not_before) ||
	    !der_time(tag2, &t2, &out->not_after))
		goto bad;
	while (tbs.p < tbs.end) {
		if (!der_next(&tbs, &tag, &v, NULL))
			goto bad;
		if (tag == DER_CTX3 && !read_extensions(v, out))
			goto bad;
	}
	out->subject = dn_text(&raw_subject);
	out->issuer = dn_text(&raw_issuer);
	out->cn = last_cn(subject);
	return true;
bad:
	ldap_cert_free(out);
	return false;
}

void
ldap_cert_free(struct ldap_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->issuer);
	free(c->cn);
	for (size_t i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

/* NAME (from the certificate, maybe "*.domain") matches DNS name HOST. */
static bool
dns_match(const char *name, const char *host)
{
	size_t hn = strlen(host);
	const char *dot;

	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	if (strncasecmp(name, "*.", 2) != 0)
		return strlen(name) == hn && strncasecmp(name, host, hn) == 0;
	/* "*." stands for exactly one non-empty label */
	if ((dot = memchr(host, '.', hn)) == NULL || dot == host)
		return false;
	return strlen(name + 1) == hn - (size_t)(dot - host) &&
	    strncasecmp(name + 1, dot, hn - (size_t)(dot - host)) == 0;
}

bool
ldap_cert_names_host(const struct ldap_cert *c, const char *host)
{
	unsigned char a[16], b[16];
	int af = 0;

	if (inet_pton(AF_INET, host, a) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, host, a) == 1)
		af = AF_INET6;
	for (size_t i = 0; i < c->n_names; i++) {
		if (af != 0) {
			if (inet_pton(af, c->names[i], b) == 1 &&
			    memcmp(a, b, af == AF_INET ? 4 : 16) == 0)
				return true;
		} else if (dns_match(c->names[i], host)) {
			return true;
		}
	}
	return c->n_names == 0 && af == 0 && c->cn != NULL &&
	    dns_match(c->cn, host);
}

char *
ldap_cert_names_text(const struct ldap_cert *c)
{
	size_t len = 1;
	char *s;

	if (c->n_names == 0)
		return strdup(c->cn != NULL ? c->cn : c->subject != NULL ?
		    c->subject : "(no name)");
	for (size_t i = 0; i < c->n_names; i++)
		len += strlen(c->names[i]) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < c->n_names; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, c->names[i]);
	}
	return s;
}
