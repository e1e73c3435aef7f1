/**
 * @module ingress/content-type
 * Is the request's media type one of the allowed ones? Patterns may use `*`
 * in the subtype (`application/*+json`). Parameters (charset) are ignored;
 * a charset other than UTF-8 is refused by the UTF-8 decoder later.
 */
export const contentTypeAllowed = (header: string | null, allowed: readonly string[]): boolean => {
  if (header === null) return false;
  const media = header.split(';')[0]?.trim().toLowerCase() ?? '';
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (!p.includes('*')) return p === media;
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return re.test(media);
  });
};
